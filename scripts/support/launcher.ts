/**
 * Starts real processes (cluster processes, test fixtures, benchmark peers) and always cleans
 * them up. Tests, the demo, the drill and the benchmarks all use it.
 * A process announces readiness by printing one JSON line with `"ready": true` on stdout;
 * the launcher returns that line's fields.
 * Children log at CHILD_LOG_LEVEL (default info) into a buffer that tests can read, not the console,
 * and, with `logFile`, every line into that file too (the buffer keeps only the last lines). Every process is killed by PID, never by name,
 * and `killAll` (run after each test file) leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { stopProcess } from '../../lib/util/process-stop.js';

/** The compiled project root (dist/); scripts are given relative to it. */
export const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const live = new Set<Proc>();

export interface LaunchOptions {
  /** Command to run; defaults to this Node binary with `script`. */
  command?: string;
  args?: string[];
  env?: Record<string, string | undefined>;
  /** How long to wait for the ready line. */
  readyTimeoutMs?: number;
  /** A predicate on stdout/stderr lines for commands that print no JSON ready line (etcd). */
  readyWhen?: (line: string) => boolean;
  name?: string;
  /** Append every line the process prints (stdout and stderr) to this file. */
  logFile?: string;
}

export class Proc {
  readonly output: string[] = [];
  ready: Record<string, unknown> = {};
  exitCode: number | null = null;
  signal: NodeJS.Signals | null = null;
  private readonly exited: Promise<void>;
  private readonly lineListeners = new Set<(line: string) => void>();
  private readonly logDone: Promise<void>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    /** Where every line goes too, if anywhere. */
    readonly logFile: string | null = null,
  ) {
    live.add(this);
    let log: WriteStream | null = null;
    if (logFile) {
      mkdirSync(path.dirname(logFile), { recursive: true });
      log = createWriteStream(logFile, { flags: 'a' });
      log.on('error', () => undefined); // a full disk must not crash the test or drill
      let open = [child.stdout, child.stderr].filter((s) => s !== null).length;
      for (const stream of [child.stdout, child.stderr]) stream?.on('close', () => --open === 0 && log!.end());
    }
    this.logDone = log ? new Promise((resolve) => log.on('finish', resolve).on('error', () => resolve())) : Promise.resolve();
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        live.delete(this);
        resolve();
      });
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        log?.write(line + '\n');
        this.output.push(line);
        if (this.output.length > 2000) this.output.shift();
        for (const listener of this.lineListeners) listener(line);
      });
    }
  }

  /** Resolves once every line is in `logFile` (after the process has exited). */
  logWritten(): Promise<void> {
    return this.logDone;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exitCode === null && this.signal === null;
  }

  onLine(listener: (line: string) => void): () => void {
    this.lineListeners.add(listener);
    return () => this.lineListeners.delete(listener);
  }

  /** Wait for a line matching `predicate` (including lines already printed). */
  waitForLine(predicate: (line: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const seen = this.output.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${this.name}: no matching line within ${timeoutMs} ms; last output:\n${this.tail()}`));
      }, timeoutMs);
      const off = this.onLine((line) => {
        if (!predicate(line)) return;
        clearTimeout(timer);
        off();
        resolve(line);
      });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running) process.kill(this.pid, signal);
  }

  /** SIGSTOP; resolves once the process is stopped, not merely signalled (lib/util/process-stop.ts). */
  async pause(): Promise<void> {
    if (this.running) await stopProcess(this.pid);
  }

  resume(): void {
    this.kill('SIGCONT');
  }

  /** Wait for the process to exit (or reject at the deadline). */
  async waitForExit(timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.exited,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${this.name} did not exit within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** SIGTERM, then SIGKILL if it does not exit in time. */
  async stop(timeoutMs = 5000): Promise<void> {
    if (!this.running) return;
    this.resume();
    this.kill('SIGTERM');
    try {
      await this.waitForExit(timeoutMs);
    } catch {
      this.kill('SIGKILL');
      await this.waitForExit(timeoutMs);
    }
  }

  tail(lines = 30): string {
    return this.output.slice(-lines).join('\n');
  }
}

/** Start a process and wait until it is ready. */
export async function launch(script: string, options: LaunchOptions = {}): Promise<Proc> {
  const command = options.command ?? process.execPath;
  const args = options.command ? (options.args ?? []) : [path.join(distRoot, script), ...(options.args ?? [])];
  const child = spawn(command, args, {
    env: { ...process.env, LOG_LEVEL: process.env['CHILD_LOG_LEVEL'] ?? 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new Proc(options.name ?? path.basename(script), child, options.logFile ?? null);
  const readyWhen = options.readyWhen;
  const timeoutMs = options.readyTimeoutMs ?? 15_000;
  try {
    await Promise.race([
      proc
        .waitForLine((line) => (readyWhen ? readyWhen(line) : parseReady(line) !== null), timeoutMs)
        .then((line) => {
          proc.ready = readyWhen ? {} : parseReady(line)!;
        }),
      once(child, 'exit').then(() => {
        throw new Error(`${proc.name} exited before it was ready:\n${proc.tail()}`);
      }),
    ]);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return proc;
}

function parseReady(line: string): Record<string, unknown> | null {
  if (!line.startsWith('{')) return null;
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    return value['ready'] === true ? value : null;
  } catch {
    return null;
  }
}

/** Kill every process still running (by PID) and wait for them to exit. */
export async function killAll(): Promise<void> {
  const procs = [...live];
  for (const proc of procs) {
    proc.resume();
    proc.kill('SIGKILL');
  }
  await Promise.all(procs.map((p) => p.waitForExit(5000).catch(() => undefined)));
}

process.on('exit', () => {
  for (const proc of live) {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
