/**
 * Task threads started before they are needed. A task's worker thread takes tens of
 * milliseconds to start and load the runtime (hundreds on a loaded machine), and a job is
 * running only once its last subtask is, so deploying a job waits for the slowest of these
 * starts. A spare is a worker that has started and loaded the runtime (lib/task/worker.ts
 * without a deployment) and waits for its one task: `take` hands it to a deployment, which sends
 * it the task's `init`. A spare runs at most one task, like any task thread, and ends with it.
 *
 * The cost is bounded: `count` idle threads per TaskRunner (~13 MB each), at most
 * MAX_SPARES_PER_PROCESS in a process however many TaskRunners it holds, each with the heap
 * limit of the slots it is for (a deployment for another heap size starts a thread of its own).
 * Spares are refilled when a task ends (and at start), not when one is taken, so that a job's
 * start does not compete with threads starting for the next one. They do not keep the process
 * alive, and `stop` terminates them.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logging.js';

/** Idle task threads a process holds at most (the scale benchmark runs 32 TaskExecutors in one). */
const MAX_SPARES_PER_PROCESS = 4;
let sparesInProcess = 0;

/** `workerData` of a spare: its WorkerInit comes later, in an `init` message. */
export interface SpareWorkerData {
  readonly spare: true;
}

export interface SpareWorkersOptions {
  /** The task thread's entry (lib/task/worker.js). */
  readonly url: URL;
  /** Idle threads to keep. */
  readonly count: number;
  /** The heap limit of each (the slot's managed memory, as a deployment computes it). */
  readonly heapMb: number;
  readonly log: Logger;
}

export class SpareWorkers {
  private readonly idle = new Set<Worker>();
  private stopped = false;

  constructor(private readonly options: SpareWorkersOptions) {}

  /** Idle spares now (started or starting). */
  get size(): number {
    return this.idle.size;
  }

  /** Starts spares up to `count` (and the process's limit). */
  fill(): void {
    while (!this.stopped && this.idle.size < this.options.count && sparesInProcess < MAX_SPARES_PER_PROCESS) this.start();
  }

  /** A spare with a heap limit of `heapMb`, now the caller's (no listeners of ours left on it), or undefined. */
  take(heapMb: number): Worker | undefined {
    if (heapMb !== this.options.heapMb) return undefined;
    const worker = this.idle.values().next().value as Worker | undefined;
    if (worker === undefined) return undefined;
    this.forget(worker);
    worker.removeAllListeners();
    worker.ref();
    return worker;
  }

  /** Terminates every spare; none starts after this. */
  async stop(): Promise<void> {
    this.stopped = true;
    const workers = [...this.idle];
    for (const w of workers) this.forget(w);
    await Promise.all(workers.map((w) => w.terminate().catch(() => undefined)));
  }

  private start(): void {
    const data: SpareWorkerData = { spare: true };
    const worker = new Worker(this.options.url, { workerData: data, resourceLimits: { maxOldGenerationSizeMb: this.options.heapMb }, name: 'spare task thread' });
    worker.unref();
    this.idle.add(worker);
    sparesInProcess++;
    // One that fails before it has a task is dropped; the next fill starts another.
    worker.on('error', (err) => {
      this.options.log.warn({ err }, 'spare task thread failed');
      this.forget(worker);
    });
    worker.on('exit', () => this.forget(worker));
  }

  private forget(worker: Worker): void {
    if (this.idle.delete(worker)) sparesInProcess--;
  }
}
