/**
 * A hash exchange and little else: numbers keyed by value into a discarding sink. With two
 * TaskExecutors of one slot each and parallelism 2, half the records cross processes.
 * Args: `records`.
 */
import type { StreamEnvironment } from '../../lib/dataflow/environment.js';

export default function shuffle(env: StreamEnvironment): void {
  env
    .fromSequence(1, Number(env.args['records'] ?? 1_000_000))
    .keyBy((n: number) => n % 1024)
    .filter(() => false)
    .print();
}
