/**
 * Keyed count with a large, mostly cold keyed state, for incremental checkpoints: the first
 * `coldKeys` records each set one cold key's ballast (`ballastBytes`) and emit nothing; the
 * following `records` are the hot keys `k<i % keys>` counted as in keyed-count.ts (exactly-once
 * output `key,count` into a transactional file sink), paced at `recordsPerSecond`. Between two
 * checkpoints only the key groups of the hot keys change. One retained checkpoint, so that the
 * shared files of subsumed checkpoints are visible.
 *
 * Args: `records`, `keys`, `output` (required), `coldKeys`, `ballastBytes`, `checkpointMs`,
 * `recordsPerSecond`, `incremental` (default true).
 */
import type { StreamEnvironment } from '../../lib/dataflow/environment.js';

export default function incrementalCount(env: StreamEnvironment): void {
  const records = Number(env.args['records'] ?? 10_000);
  const keys = Number(env.args['keys'] ?? 4);
  const cold = Number(env.args['coldKeys'] ?? 20_000);
  const output = String(env.args['output'] ?? '');
  if (!output) throw new Error('incremental-count needs --arg output=<directory>');
  const ballast = 'b'.repeat(Number(env.args['ballastBytes'] ?? 256));
  const perSecond = Number(env.args['recordsPerSecond'] ?? 0);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  env.enableCheckpointing(Number(env.args['checkpointMs'] ?? 200), { retained: 1, incremental: env.args['incremental'] !== false && env.args['incremental'] !== 'false' });
  env.setRestartStrategy({ type: 'fixed-delay', attempts: 100, delayMs: 100 });
  env
    .fromGenerator((i) => {
      if (i < cold) return `c${i}`;
      if (perSecond > 0 && i % Math.max(1, Math.floor(perSecond / 100)) === 0) Atomics.wait(pause, 0, 0, 10);
      return `k${(i - cold) % keys}`;
    }, cold + records)
    .setParallelism(1)
    .name('keys')
    .keyBy((key: string) => key)
    .process<string>((key, ctx, out) => {
      if (key.startsWith('c')) {
        ctx.getValueState<string>('ballast').update(ballast);
        return;
      }
      const count = ctx.getValueState<number>('count');
      const next = (count.value() ?? 0) + 1;
      count.update(next);
      out.collect(`${key},${next}`);
    })
    .name('count')
    .writeToFiles(output)
    .name('files');
}
