/**
 * Checkpoints that cannot finish in time: a slow operator behind full buffers holds the
 * barrier back for longer than the checkpoint timeout (`timeoutMs`, default 50; the interval
 * is `intervalMs`, default 200).
 */
import type { StreamEnvironment } from '../../lib/dataflow/environment.js';

export default function slowCheckpoints(env: StreamEnvironment): void {
  env.enableCheckpointing(Number(env.args['intervalMs'] ?? 200), { timeoutMs: Number(env.args['timeoutMs'] ?? 50) });
  env
    .fromSequence(1, 1e9)
    .name('fast source')
    .rebalance()
    .map((n: number) => {
      const until = Date.now() + 2;
      while (Date.now() < until) {
        // a slow operator: each record takes 2 ms
      }
      return n;
    })
    .name('slow')
    .filter(() => false)
    .print();
}
