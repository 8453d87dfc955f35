/**
 * `npm run sim`: runs seeds of the deterministic simulator (lib/sim) and prints, on stdout,
 * every violation with the trace of its seed, and the seeds per second; progress goes to
 * stderr. Exit status: 0 when no invariant was violated, 1 when one was, 2 for bad arguments.
 */
import { parseSimArgs, SimUsageError, USAGE, type SimOptions } from '../../lib/sim/options.js';
import type { RunResult } from '../../lib/sim/run.js';

const TRACE_TAIL = 300;
const PROGRESS_EVERY_MS = 5000;

function replayCommand(seed: number, options: SimOptions): string {
  return `npm run sim -- --seed ${seed} --faults ${options.faults}${options.mutant ? ` --mutant ${options.mutant}` : ''}`;
}

function report(result: RunResult, options: SimOptions): void {
  const out: string[] = [];
  for (const v of result.violations) out.push(`seed ${result.seed}: VIOLATION ${v.invariant} at ${v.at} ms: ${v.message}`);
  const trace = result.trace;
  const shown = options.fullTrace ? trace : trace.slice(-TRACE_TAIL);
  out.push(`seed ${result.seed}: trace (simulated ms, event)${shown.length < trace.length ? `, last ${shown.length} of ${trace.length} events (--full-trace prints all)` : ''}:`);
  for (const line of shown) out.push(`  ${line}`);
  out.push(`seed ${result.seed}: replay with: ${replayCommand(result.seed, options)}`);
  process.stdout.write(out.join('\n') + '\n');
}

async function main(): Promise<number> {
  let options: SimOptions;
  try {
    options = parseSimArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof SimUsageError)) throw err;
    if (err.message) process.stderr.write(`sim: ${err.message}\n`);
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  // Loaded only now: a bad argument is refused at once, without loading the whole runtime.
  const { runSeed } = await import('../../lib/sim/run.js');
  const started = performance.now();
  let lastProgress = started;
  let failing = 0;
  let simulatedMs = 0;
  for (let i = 0; i < options.seeds; i++) {
    const seed = options.firstSeed + i;
    const result = await runSeed(seed, { faults: options.faults, mutant: options.mutant });
    simulatedMs += result.simulatedMs;
    if (result.violations.length > 0) {
      failing++;
      report(result, options);
    }
    const now = performance.now();
    if (now - lastProgress > PROGRESS_EVERY_MS) {
      lastProgress = now;
      process.stderr.write(`sim: ${i + 1}/${options.seeds} seeds, ${failing} failing\n`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const rate = options.seeds / seconds;
  process.stdout.write(
    `${options.seeds} seeds (from ${options.firstSeed}, ${options.faults} faults each${options.mutant ? `, mutant ${options.mutant}` : ''}) in ${seconds.toFixed(1)} s: ` +
      `${rate.toFixed(1)} seeds/s, ${(simulatedMs / 1000 / seconds).toFixed(0)}x real time; ${failing} with violations\n`,
  );
  return failing > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`sim: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
