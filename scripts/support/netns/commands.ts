/**
 * Running `ip` and `nft`: asynchronously in normal use, synchronously from an exit or signal
 * handler (the only code that runs then is synchronous).
 */
import { execFile, execFileSync } from 'node:child_process';
import { NetnsCommandError } from './errors.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** Run a command to its end; rejects with {@link NetnsCommandError} (stderr included) on failure. */
export function run(command: string, args: readonly string[], { input, timeoutMs = 10_000 }: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new NetnsCommandError(command, args, stderr || err.message, { cause: err }));
      else resolve({ stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

/** Synchronous twin of {@link run} for exit handlers; never throws, returns stdout or null. */
export function runSync(command: string, args: readonly string[]): string | null {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
  } catch {
    return null;
  }
}
