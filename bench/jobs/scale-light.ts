/**
 * The scale benchmark's job: one chain (generator → map → discarding filter → print sink) at
 * the job's parallelism, so that parallelism p is p tasks (p worker threads) in p slots and no
 * shuffle (a keyBy at p = 256 would open 65,536 channels). Each source subtask is paced to
 * `recordsPerSecond` and runs until cancelled; its state is its source offset, so checkpoints
 * measure the coordination (trigger, barriers, p acknowledgements, etcd), not state transfer.
 * Args: `recordsPerSecond` per subtask (100), `checkpointMs` (500).
 */
import type { StreamEnvironment } from '../../lib/dataflow/environment.js';

export default function scaleLight(env: StreamEnvironment): void {
  const perSecond = Math.max(1, Number(env.args['recordsPerSecond'] ?? 100));
  const pause = new Int32Array(new SharedArrayBuffer(4));
  env.enableCheckpointing(Number(env.args['checkpointMs'] ?? 500));
  // Above the default of 128, so that the job runs at parallelism 256 (no keyed state: the value only bounds p).
  env.setMaxParallelism(1024);
  env
    .fromGenerator((i) => {
      // Atomics.wait sleeps the task thread: a light, paced source.
      Atomics.wait(pause, 0, 0, 1000 / perSecond);
      return i;
    })
    .map((i: number) => i + 1)
    .filter(() => false)
    .print();
}
