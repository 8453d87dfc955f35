/**
 * The dataflow of the seed's figure: source and map chained at parallelism 2, keyBy to an
 * aggregation at parallelism 2, and a sink at parallelism 1 — five subtasks in two slots.
 * With `sinkGroup` set, the sink goes to its own slot sharing group (three slots).
 */
import type { StreamEnvironment } from '../../lib/dataflow/environment.js';

export default function seedExample(env: StreamEnvironment): void {
  const count = Number(env.args['count'] ?? 1000);
  const sink = env
    .fromSequence(1, count)
    .setParallelism(2)
    .name('Source')
    .map((n: number): [string, number] => [`k${n % 10}`, n])
    .setParallelism(2)
    .name('map()')
    .keyBy((pair) => pair[0])
    .reduce((a, b) => [a[0], a[1] + b[1]])
    .setParallelism(2)
    .name('keyBy()/window()/apply()')
    .collect()
    .setParallelism(1)
    .name('Sink');
  if (env.args['sinkGroup']) sink.slotSharingGroup(String(env.args['sinkGroup']));
}
