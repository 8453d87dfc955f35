/**
 * A large keyed state: `keys` keys, each holding a `valueBytes` string in ValueState. With a
 * long checkpoint interval the only checkpoint is the final one after the source is exhausted,
 * which snapshots all of it. Args: `keys`, `valueBytes`.
 */
import type { StreamEnvironment } from '../../lib/dataflow/environment.js';

export default function bigState(env: StreamEnvironment): void {
  env.enableCheckpointing(600_000, { timeoutMs: 600_000 });
  const valueBytes = Number(env.args['valueBytes'] ?? 1024);
  const filler = 'x'.repeat(valueBytes);
  env
    .fromSequence(1, Number(env.args['keys'] ?? 100_000))
    .keyBy((n: number) => n)
    .process<number>((n, ctx) => {
      ctx.getValueState<string>('blob').update(filler + n);
    })
    .print();
}
