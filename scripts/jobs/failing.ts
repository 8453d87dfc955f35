/** A job whose map throws at record `failAt` (default 500): a task failure with a clear cause. */
import type { StreamEnvironment } from '../../lib/dataflow/environment.js';

export default function failing(env: StreamEnvironment): void {
  const failAt = Number(env.args['failAt'] ?? 500);
  env
    .fromSequence(1, 1_000_000)
    .map((n: number) => {
      if (n === failAt) throw new Error(`record ${n} is poison`);
      return n;
    })
    .name('poisoned map')
    .collect();
}
