/**
 * A stateful keyed count with exactly-once output: the job the failure tests and the drill
 * check. Each record is a key `k<i % keys>`; for every record the job emits `key,count`, the
 * key's running count kept in keyed state, into a transactional file sink. After any number of
 * failures and restores, the committed output holds, for every key, exactly the lines
 * `key,1` … `key,n` once each.
 *
 * Args: `records` (default 100000), `keys` (50), `output` (directory, required),
 * `checkpointMs` (500), `recordsPerSecond` (0 = unthrottled; the source sleeps to pace itself,
 * so that a run lasts long enough to inject faults into), `sourceParallelism` (1), `unpacedBy`
 * (a file: once it exists, the source stops pacing and runs to its end at full speed; the drill
 * creates it when its faults are done, so that it waits for its faults, not for its plan of them).
 */
import { existsSync } from 'node:fs';
import type { StreamEnvironment } from '../../lib/dataflow/environment.js';

export default function keyedCount(env: StreamEnvironment): void {
  const records = Number(env.args['records'] ?? 100_000);
  const keys = Number(env.args['keys'] ?? 50);
  const output = String(env.args['output'] ?? '');
  if (!output) throw new Error("keyed-count needs --arg output=<directory>");
  const perSecond = Number(env.args['recordsPerSecond'] ?? 0);
  const unpacedBy = env.args['unpacedBy'] === undefined ? null : String(env.args['unpacedBy']);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const stride = Math.max(1, Math.floor(perSecond / 100));
  let paced = perSecond > 0;
  let pauses = 0;
  env.enableCheckpointing(Number(env.args['checkpointMs'] ?? 500));
  env.setRestartStrategy({ type: 'fixed-delay', attempts: 1000, delayMs: 100 });
  env
    .fromGenerator((i) => {
      // Pace in steps of 10 ms: Atomics.wait sleeps the task thread without burning a core.
      // Whether to stop pacing is looked up every half second.
      if (paced && i % stride === 0) {
        if (unpacedBy !== null && pauses++ % 50 === 0 && existsSync(unpacedBy)) paced = false;
        else Atomics.wait(pause, 0, 0, 10);
      }
      return `k${i % keys}`;
    }, records)
    .setParallelism(Number(env.args['sourceParallelism'] ?? 1))
    .name('keys')
    .keyBy((key: string) => key)
    .process<string>((key, ctx, out) => {
      const count = ctx.getValueState<number>('count');
      const next = (count.value() ?? 0) + 1;
      count.update(next);
      out.collect(`${key},${next}`);
    })
    .name('count')
    .writeToFiles(output)
    .name('files');
}
