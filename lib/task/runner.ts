/**
 * The task runtime of one TaskExecutor process, below the actor layer: it runs each deployed
 * subtask in its own worker thread (heap capped by the slot's managed memory), and it is the
 * data-plane router between them. A worker talks only to this main thread; buffers (transferred
 * ArrayBuffers), end-of-partition events and credits go:
 *
 *   - to a worker of this TaskExecutor by postMessage (the buffer transferred again, no copy);
 *   - to another TaskExecutor over the data connection to it (DataTransport, TCP);
 *   - into HeldMessages when the subtask they are for is not deployed here yet.
 *
 * The route of every channel comes from the deployment descriptors (which TaskExecutor runs
 * the other end); the target subtask comes from the channel id itself, which also carries the
 * job attempt, so that messages of an old attempt find no subtask and are dropped.
 *
 * Every deployment ends with exactly one terminal `task.state` event: `finished` or `failed`
 * as the worker reports them, `failed` when the worker crashes, runs out of memory or exits
 * early, `canceled` after `cancel`/`cancelJob`.
 */
import { Worker } from 'node:worker_threads';
import { toWireError, type WireError } from '../errors.js';
import type { Logger } from '../logging.js';
import { consumerExecutionId, formatChannelId, parseChannelId, producerExecutionId, type ChannelId } from '../network/channel-id.js';
import { DataTransport } from '../network/data-transport.js';
import { DataMessageType, type DataMessage } from '../network/messages.js';
import { type CheckpointOptions, type TaskDeploymentDescriptor, type TaskEvent, type TaskLocation, type TaskMetrics } from './descriptor.js';
import { DuplicateDeploymentError, RunnerStoppedError, TaskOutOfMemoryError, WorkerCrashedError, WorkerExitedError } from './errors.js';
import { HeldMessages } from './held-messages.js';
import { DEFAULT_TASK_SETTINGS, MIN_TASK_HEAP_MB, type TaskSettings } from './settings.js';
import { SpareWorkers } from './spare-workers.js';
import type { FromWorker, SpareInitMessage, ToWorker, WorkerInit } from './worker-protocol.js';
import { storageSettings } from '../storage/index.js';
import type { Clock } from '../util/clock.js';

export interface TaskRunnerOptions {
  readonly taskExecutorId: string;
  /** Bind address of the data server, e.g. '127.0.0.1'. */
  readonly host: string;
  /** The host of the data address that peers dial (default: `host`). */
  readonly advertisedHost?: string;
  readonly clusterId: string;
  readonly secret: string;
  readonly log: Logger;
  /** Scratch space of this TaskExecutor (job files, spills). */
  readonly workDir: string;
  /**
   * Task threads to keep started ahead of deployments, for slots of this size (spare-workers.ts);
   * none by default. A TaskExecutor keeps two per slot: a slot runs a task of each vertex that
   * shares it, so that deploying a job waits for no thread to start.
   */
  readonly spareWorkers?: { readonly count: number; readonly slot: SlotResources };
  /** Data-plane tuning; Flink-like defaults. */
  readonly settings?: Partial<TaskSettings>;
  /** Time of the data connections' handshakes, heartbeats and idleness, and of the spares' ready bound (the TaskExecutor's clock; real by default). */
  readonly clock?: Clock;
}

/** The slot a subtask runs in, as far as the runtime cares. */
export interface SlotResources {
  readonly managedMemoryBytes: number;
}

interface Deployment {
  readonly tdd: TaskDeploymentDescriptor;
  readonly worker: Worker;
  readonly onEvent: (e: TaskEvent) => void;
  readonly heapMb: number;
  /** Channel id -> the TaskExecutor at its other end. */
  readonly routes: Map<string, TaskLocation>;
  canceled: boolean;
  ended: boolean;
  lastMetrics: TaskMetrics | undefined;
}

/** Executions that ended recently, so that late messages for them are dropped rather than held. */
const RETIRED_LIMIT = 10_000;

/**
 * @example
 * const runner = new TaskRunner({ taskExecutorId: 'te-1', host: '127.0.0.1', clusterId, secret, log, workDir });
 * const { dataAddress } = await runner.start();      // announce it with the TaskExecutor's registration
 * runner.deploy(tdd, { managedMemoryBytes: 128 << 20 }, (event) => forwardToJobMaster(event));
 * runner.cancelJob(jobId);
 * await runner.stop();
 */
export class TaskRunner {
  private readonly settings: TaskSettings;
  private readonly transport: DataTransport;
  private readonly deployments = new Map<string, Deployment>();
  private readonly held = new HeldMessages();
  private readonly retired = new Set<string>();
  private readonly latestAttempt = new Map<string, number>();
  private readonly channelCache = new Map<string, ChannelId>();
  private readonly log: Logger;
  private readonly workerUrl = new URL('./worker.js', import.meta.url);
  private readonly spares: SpareWorkers | null;
  private stopping = false;

  constructor(private readonly options: TaskRunnerOptions) {
    this.settings = { ...DEFAULT_TASK_SETTINGS, ...options.settings };
    this.log = options.log.child({ component: 'task-runner' });
    this.transport = new DataTransport({
      node: options.taskExecutorId,
      host: options.host,
      ...(options.advertisedHost ? { advertisedHost: options.advertisedHost } : {}),
      clusterId: options.clusterId,
      secret: options.secret,
      log: this.log,
      onMessage: (msg) => this.onRemoteMessage(msg),
      onPeerLost: (peer, reason) => this.onPeerLost(peer, reason),
      ...(options.clock ? { clock: options.clock } : {}),
    });
    const spares = options.spareWorkers;
    this.spares = spares !== undefined && spares.count > 0 ? new SpareWorkers({ url: this.workerUrl, count: spares.count, heapMb: heapMbOf(spares.slot), log: this.log, ...(options.clock ? { clock: options.clock } : {}) }) : null;
  }

  /** Spare task threads idle now (started or starting). */
  get spareWorkers(): number {
    return this.spares?.size ?? 0;
  }

  get taskExecutorId(): string {
    return this.options.taskExecutorId;
  }

  /** Starts the data server (TCP, ephemeral port) and the spare task threads (ready when this resolves). */
  async start(): Promise<{ dataAddress: string }> {
    const dataAddress = await this.transport.start();
    this.log.info({ dataAddress, bind: this.options.host }, 'data server listening');
    this.spares?.fill();
    await this.spares?.ready();
    return { dataAddress };
  }

  /**
   * Runs a subtask in a new worker thread. `onEvent` receives `running`, metrics, collected
   * records, and exactly one terminal state.
   */
  deploy(tdd: TaskDeploymentDescriptor, slot: SlotResources, onEvent: (e: TaskEvent) => void): void {
    const id = tdd.executionId;
    if (this.stopping) return this.reportEarly(id, onEvent, toWireError(new RunnerStoppedError(id)));
    if (this.deployments.has(id)) return this.reportEarly(id, onEvent, toWireError(new DuplicateDeploymentError(id)));
    // A newer attempt makes everything held for older attempts of the job stale.
    if ((this.latestAttempt.get(tdd.jobId) ?? -1) < tdd.attempt) {
      this.latestAttempt.set(tdd.jobId, tdd.attempt);
      this.held.dropJob(tdd.jobId, tdd.attempt);
    }
    const heapMb = heapMbOf(slot);
    // The heap limit does not cover Buffers: the worker measures those against the same share.
    const init: WorkerInit = { tdd, settings: this.settings, offHeapLimitBytes: heapMb * 1024 * 1024, storage: storageSettings() };
    const spare = this.spares?.take(heapMb);
    if (spare !== undefined) spare.postMessage({ t: 'init', init } satisfies SpareInitMessage);
    const worker = spare ?? new Worker(this.workerUrl, { workerData: init, resourceLimits: { maxOldGenerationSizeMb: heapMb }, name: id });
    const dep: Deployment = { tdd, worker, onEvent, heapMb, routes: routesOf(tdd), canceled: false, ended: false, lastMetrics: undefined };
    this.deployments.set(id, dep);
    this.retired.delete(id);
    worker.on('message', (msg: FromWorker) => this.onWorkerMessage(dep, msg));
    worker.on('error', (err: Error & { code?: string }) => {
      const error = err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new TaskOutOfMemoryError(id, heapMb, err) : new WorkerCrashedError(id, err);
      this.log.warn({ executionId: id, err }, 'task worker failed');
      this.end(dep, 'failed', toWireError(error));
    });
    worker.on('exit', (code) => {
      if (dep.canceled) this.end(dep, 'canceled');
      else if (this.stopping) this.end(dep, 'failed', toWireError(new RunnerStoppedError(id)));
      else this.end(dep, 'failed', toWireError(new WorkerExitedError(id, code)));
    });
    for (const msg of this.held.take(id)) this.post(dep, msg);
    this.log.debug({ executionId: id, heapMb, spare: spare !== undefined }, 'task deployed');
  }

  /** Stops a subtask; it ends as `canceled`. Unknown or ended subtasks are ignored. */
  cancel(executionId: string): void {
    const dep = this.deployments.get(executionId);
    if (dep === undefined || dep.ended) return;
    dep.canceled = true;
    void dep.worker.terminate();
  }

  /** Cancels every subtask of a job and drops whatever was held for it. */
  cancelJob(jobId: string): void {
    for (const dep of this.deployments.values()) if (dep.tdd.jobId === jobId) this.cancel(dep.tdd.executionId);
    this.held.dropJob(jobId);
  }

  /**
   * Starts checkpoint `checkpointId` at a SOURCE subtask: it snapshots, emits a barrier and acks
   * (`task.checkpoint.ack`) once its snapshot is written, or declines. Unknown or ended subtasks
   * are ignored (the coordinator's timeout covers them).
   */
  triggerCheckpoint(executionId: string, checkpointId: number, options: CheckpointOptions): void {
    const dep = this.deployments.get(executionId);
    if (dep === undefined || dep.ended) return;
    this.post(dep, { t: 'cp.trigger', checkpointId, options });
  }

  /**
   * Checkpoint `checkpointId` of attempt `attempt` is complete: to that attempt's subtasks here
   * (sinks commit). A subtask of an older attempt still running here (its cancel lost in a
   * partition) never hears it: it would commit what the new attempt writes again.
   */
  notifyCheckpointComplete(jobId: string, attempt: number, checkpointId: number): void {
    this.notifyAttempt(jobId, attempt, { t: 'cp.complete', checkpointId });
  }

  /** Checkpoint `checkpointId` of attempt `attempt` was aborted: to that attempt's subtasks here. */
  notifyCheckpointAborted(jobId: string, attempt: number, checkpointId: number): void {
    this.notifyAttempt(jobId, attempt, { t: 'cp.aborted', checkpointId });
  }

  /**
   * The leader is gone: every subtask of the job here abandons the checkpoint it has in flight
   * (alignment, upload). Nothing is committed: sinks keep their pre-committed files until a
   * checkpoint of the next leader completes.
   */
  abortPendingCheckpoints(jobId: string): void {
    for (const dep of this.deployments.values()) if (dep.tdd.jobId === jobId && !dep.ended) this.post(dep, { t: 'cp.abortPending' });
  }

  private notifyAttempt(jobId: string, attempt: number, msg: ToWorker): void {
    for (const dep of this.deployments.values()) if (dep.tdd.jobId === jobId && dep.tdd.attempt === attempt && !dep.ended) this.post(dep, msg);
  }

  /** Execution ids of the subtasks that have not ended. */
  runningTasks(): string[] {
    return [...this.deployments.values()].filter((d) => !d.ended).map((d) => d.tdd.executionId);
  }

  /** Terminates every worker (their tasks end as `canceled`) and closes the data server and connections. */
  async stop(): Promise<void> {
    const workers = [...this.deployments.values()];
    for (const dep of workers) dep.canceled = true;
    this.stopping = true;
    await Promise.all([...workers.map((dep) => dep.worker.terminate().catch(() => undefined)), this.spares?.stop()]);
    await this.transport.stop();
  }

  private onWorkerMessage(dep: Deployment, msg: FromWorker): void {
    const id = dep.tdd.executionId;
    switch (msg.t) {
      case DataMessageType.Buffer:
      case DataMessageType.EndOfPartition:
      case DataMessageType.Credit:
      case DataMessageType.Barrier:
        return this.route(dep, msg);
      case 'state':
        if (msg.metrics) dep.lastMetrics = msg.metrics;
        if (msg.state === 'running') return dep.onEvent({ type: 'task.state', executionId: id, state: 'running' });
        this.end(dep, msg.state, msg.error);
        // Everything it sent came before this message; a worker that lingers (a user timer) is stopped.
        void dep.worker.terminate();
        return;
      case 'metrics':
        dep.lastMetrics = msg.metrics;
        return dep.onEvent({ type: 'task.metrics', executionId: id, metrics: msg.metrics });
      case 'collect':
        return dep.onEvent({ type: 'task.collect', executionId: id, records: msg.records, epoch: msg.epoch });
      case 'stdout':
        process.stdout.write(msg.text);
        return;
      case 'cp.ack':
        return dep.onEvent({ type: 'task.checkpoint.ack', executionId: id, checkpointId: msg.checkpointId, handle: msg.handle });
      case 'cp.declined':
        return dep.onEvent({ type: 'task.checkpoint.declined', executionId: id, checkpointId: msg.checkpointId, error: msg.error });
      case 'cp.exhausted':
        return dep.onEvent({ type: 'task.source.exhausted', executionId: id });
      case 'spare.ready':
        return; // a spare taken while it was still starting: its task's `running` follows

    }
  }

  /** A data message from one of our workers: to a local worker or over TCP. */
  private route(dep: Deployment, msg: DataMessage): void {
    const to = dep.routes.get(msg.ch);
    if (to === undefined) {
      this.log.error({ executionId: dep.tdd.executionId, channel: msg.ch }, 'task sent on a channel it does not have; dropped');
      return;
    }
    if (to.taskExecutorId === this.options.taskExecutorId) this.deliverLocal(msg);
    else this.transport.send(to, msg);
  }

  private onRemoteMessage(msg: DataMessage): void {
    this.deliverLocal(msg);
  }

  /** To the subtask the channel id names on this TaskExecutor, or held until it is deployed. */
  private deliverLocal(msg: DataMessage): void {
    const ch = this.channel(msg.ch);
    if (ch === null) return;
    const target = msg.t === DataMessageType.Credit ? producerExecutionId(ch) : consumerExecutionId(ch);
    const dep = this.deployments.get(target);
    if (dep !== undefined) {
      if (!dep.ended) this.post(dep, msg);
      return;
    }
    if (this.retired.has(target) || (this.latestAttempt.get(ch.jobId) ?? -1) > ch.attempt) return; // late or stale
    if (!this.held.hold(target, ch.jobId, ch.attempt, msg)) {
      this.log.warn({ executionId: target, channel: msg.ch }, 'too many messages held for a task not deployed; dropped');
    }
  }

  private post(dep: Deployment, msg: ToWorker): void {
    if (msg.t === DataMessageType.Buffer) dep.worker.postMessage(msg, [msg.data]);
    else dep.worker.postMessage(msg);
  }

  private channel(id: string): ChannelId | null {
    let ch = this.channelCache.get(id);
    if (ch !== undefined) return ch;
    try {
      ch = parseChannelId(id);
    } catch (err) {
      this.log.warn({ err, channel: id }, 'data message with an invalid channel id; dropped');
      return null;
    }
    if (this.channelCache.size >= 100_000) this.channelCache.clear();
    this.channelCache.set(id, ch);
    return ch;
  }

  private onPeerLost(peer: string, reason: string): void {
    for (const dep of this.deployments.values()) {
      if (dep.ended) continue;
      for (const location of dep.routes.values()) {
        if (location.taskExecutorId === peer) {
          this.post(dep, { t: 'peerLost', taskExecutorId: peer, reason });
          break;
        }
      }
    }
  }

  /** Reports the terminal state once and forgets the deployment. */
  private end(dep: Deployment, state: 'finished' | 'failed' | 'canceled', error?: WireError): void {
    if (dep.ended) return;
    dep.ended = true;
    const id = dep.tdd.executionId;
    this.deployments.delete(id);
    this.retired.add(id);
    if (this.retired.size > RETIRED_LIMIT) this.retired.delete(this.retired.values().next().value as string);
    this.held.take(id);
    const event: TaskEvent = { type: 'task.state', executionId: id, state };
    if (error !== undefined) event.error = error;
    if (dep.lastMetrics !== undefined) event.metrics = dep.lastMetrics;
    if (state === 'failed') this.log.warn({ executionId: id, error }, 'task failed');
    else this.log.debug({ executionId: id, state }, 'task ended');
    dep.onEvent(event);
    // A slot's thread is free again: a spare is ready for the next deployment before it comes.
    if (!this.stopping) this.spares?.fill();
  }

  private reportEarly(executionId: string, onEvent: (e: TaskEvent) => void, error: WireError): void {
    // Asynchronous, like every other event, so that callers never see an event inside deploy().
    queueMicrotask(() => onEvent({ type: 'task.state', executionId, state: 'failed', error }));
  }
}

/** A task's heap limit: its slot's managed memory, at least MIN_TASK_HEAP_MB. */
function heapMbOf(slot: SlotResources): number {
  return Math.max(MIN_TASK_HEAP_MB, Math.floor(slot.managedMemoryBytes / (1024 * 1024)));
}

/** Every channel of a subtask and the TaskExecutor at its other end. */
function routesOf(tdd: TaskDeploymentDescriptor): Map<string, TaskLocation> {
  const routes = new Map<string, TaskLocation>();
  const id = (producerVertexId: string, producerIndex: number, consumerVertexId: string, consumerIndex: number) =>
    formatChannelIdOf(tdd, producerVertexId, producerIndex, consumerVertexId, consumerIndex);
  for (const out of tdd.outputs) for (const c of out.consumers) routes.set(id(tdd.vertexId, tdd.subtaskIndex, out.targetVertexId, c.subtaskIndex), c.location);
  for (const input of tdd.inputs) for (const p of input.producers) routes.set(id(input.sourceVertexId, p.subtaskIndex, tdd.vertexId, tdd.subtaskIndex), p.location);
  return routes;
}

function formatChannelIdOf(tdd: TaskDeploymentDescriptor, producerVertexId: string, producerIndex: number, consumerVertexId: string, consumerIndex: number): string {
  return formatChannelId({ jobId: tdd.jobId, attempt: tdd.attempt, producerVertexId, producerIndex, consumerVertexId, consumerIndex });
}
