/**
 * Tiny keyed state under a paced source, for the latency of checkpoints and of exactly-once
 * output: `keys` keys counted in ValueState (about 2.5 KB of state for 1,000 keys), every
 * record written as `key,count,enteredSinkAtMs` into a transactional file sink, whose files
 * become visible only when a checkpoint completes. Args: `records`, `keys` (1000),
 * `recordsPerSecond` (1200), `checkpointMs` (100), `output` (directory, required).
 */
import type { StreamEnvironment } from '../../lib/dataflow/environment.js';

export default function smallState(env: StreamEnvironment): void {
  const keys = Number(env.args['keys'] ?? 1000);
  const perSecond = Number(env.args['recordsPerSecond'] ?? 1200);
  const output = String(env.args['output'] ?? '');
  if (!output) throw new Error('small-state needs --arg output=<directory>');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  env.enableCheckpointing(Number(env.args['checkpointMs'] ?? 100));
  env
    .fromGenerator((i) => {
      // Pace in steps of 10 ms, as keyed-count does: Atomics.wait sleeps the task thread.
      if (perSecond > 0 && i % Math.max(1, Math.floor(perSecond / 100)) === 0) Atomics.wait(pause, 0, 0, 10);
      return i % keys;
    }, Number(env.args['records'] ?? 12_000))
    .setParallelism(1) // one paced reader: the rate is the job's
    .keyBy((key: number) => key)
    .process<string>((key, ctx, out) => {
      const count = ctx.getValueState<number>('count');
      const next = (count.value() ?? 0) + 1;
      count.update(next);
      // Chained to the sink: this is the moment the record enters it.
      out.collect(`${key},${next},${Date.now()}`);
    })
    .writeToFiles(output);
}
