/**
 * Backpressure: a fast source and a deliberately slow sink. With credit-based flow control the
 * source can run ahead of the sink by only a bounded number of buffers.
 * Args: `count` records (default 1e9: effectively unbounded), `sinkDelayUs` per record.
 */
import type { StreamEnvironment } from '../../lib/dataflow/environment.js';

export default function slowSink(env: StreamEnvironment): void {
  const count = Number(env.args['count'] ?? 1e9);
  const delayUs = Number(env.args['sinkDelayUs'] ?? 200);
  env
    .fromSequence(1, count)
    .name('fast source')
    .rebalance()
    .map((n: number) => {
      const until = process.hrtime.bigint() + BigInt(delayUs * 1000);
      while (process.hrtime.bigint() < until) {
        // busy: a sink that cannot keep up
      }
      return n;
    })
    .name('slow')
    .disableChaining()
    .filter(() => false)
    .name('discard')
    .print();
}
