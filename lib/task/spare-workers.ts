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
import { realClock, type Clock, type TimerHandle } from '../util/clock.js';
import type { FromWorker } from './worker-protocol.js';

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
  /** Times `ready`'s bound (real by default). */
  readonly clock?: Clock;
}

/** How long `ready` waits for spares at most: a TaskExecutor starts without them rather than not at all. */
const READY_TIMEOUT_MS = 10_000;

export class SpareWorkers {
  private readonly idle = new Set<Worker>();
  /** Per spare still starting: `done` settles once it is ready, has failed, has exited or was taken. */
  private readonly starting = new Map<Worker, { readonly done: Promise<void>; readonly settle: () => void }>();
  /** Per idle spare: takes our listeners off it (never `removeAllListeners`: the Worker has listeners of its own). */
  private readonly release = new Map<Worker, () => void>();
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

  /**
   * Resolves once every spare started so far has loaded the runtime (or failed), so that a
   * TaskExecutor announces its slots with threads ready for them, and a job submitted at once
   * does not compete with their start.
   */
  async ready(): Promise<void> {
    const clock = this.options.clock ?? realClock;
    let timer: TimerHandle;
    const timeout = new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, READY_TIMEOUT_MS)));
    await Promise.race([Promise.all([...this.starting.values()].map((s) => s.done)), timeout]);
    clock.clearTimeout(timer);
  }

  /** A spare with a heap limit of `heapMb`, now the caller's (no listeners of ours left on it), or undefined. */
  take(heapMb: number): Worker | undefined {
    if (heapMb !== this.options.heapMb) return undefined;
    const worker = this.idle.values().next().value as Worker | undefined;
    if (worker === undefined) return undefined;
    this.forget(worker);
    this.release.get(worker)?.();
    this.release.delete(worker);
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
    let settle: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (settle = resolve));
    this.starting.set(worker, { done, settle });
    const onMessage = (msg: FromWorker) => {
      if (msg.t === 'spare.ready') this.started(worker);
    };
    // One that fails before it has a task is dropped; the next fill starts another.
    const onError = (err: Error) => {
      this.options.log.warn({ err }, 'spare task thread failed');
      this.forget(worker);
    };
    const onExit = () => {
      this.forget(worker);
      this.release.delete(worker);
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    this.release.set(worker, () => worker.off('message', onMessage).off('error', onError).off('exit', onExit));
  }

  /** Ready (or no longer ours): whoever waits in `ready` goes on without it. */
  private started(worker: Worker): void {
    this.starting.get(worker)?.settle();
    this.starting.delete(worker);
  }

  private forget(worker: Worker): void {
    if (this.idle.delete(worker)) sparesInProcess--;
    this.started(worker);
  }
}
