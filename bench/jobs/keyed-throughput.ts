/**
 * Keyed state under load, for the cost of checkpointing: keys counted in ValueState as fast as
 * the source produces them, results dropped. Args: `records`, `keys`, `checkpointMs` (0: none),
 * `incremental` (default true).
 */
import type { StreamEnvironment } from '../../lib/dataflow/environment.js';

export default function keyedThroughput(env: StreamEnvironment): void {
  const checkpointMs = Number(env.args['checkpointMs'] ?? 0);
  if (checkpointMs > 0) env.enableCheckpointing(checkpointMs, { incremental: env.args['incremental'] !== false });
  const keys = Number(env.args['keys'] ?? 10_000);
  env
    .fromSequence(1, Number(env.args['records'] ?? 5_000_000))
    .keyBy((n: number) => n % keys)
    .process<number>((n, ctx, out) => {
      const count = ctx.getValueState<number>('count');
      const next = (count.value() ?? 0) + 1;
      count.update(next);
      if (next < 0) out.collect(n); // never: keeps the operator honest without output cost
    })
    .print();
}
