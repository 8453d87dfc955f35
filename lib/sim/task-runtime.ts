/**
 * The simulated task runtime of one TaskExecutor: what the TaskExecutor machine drives through
 * its TaskRuntime seam (actors/taskexecutor/machine.ts), in the protocol of the real one
 * (lib/task/runner.ts): deploy → `running`, exactly one terminal state per deployment, sources
 * that snapshot and inject barriers on a trigger, subtasks that align barriers, snapshot and
 * acknowledge, sinks that commit on the completion notice of their own attempt, sources that
 * report exhaustion and end after a final checkpoint. No threads, no files: the subtasks are
 * models on the TaskExecutor's simulated clock, their data and snapshots in SimDataflow.
 */
import type { TaskRuntime } from '../../actors/taskexecutor/machine.js';
import { executionIdOf, type CheckpointOptions, type TaskDeploymentDescriptor, type TaskEvent } from '../task/descriptor.js';
import type { WireError } from '../errors.js';
import type { Rng } from './rng.js';
import type { SimNode } from './scheduler.js';
import type { Element, SimDataflow, SinkRecord } from './dataflow.js';

/** Safety mechanisms of the runtime that a mutant turns off. */
export interface TaskMutants {
  /** A subtask snapshots on the last barrier but keeps processing channels whose barrier came first. */
  noAlignment: boolean;
  /** The sink writes straight to the external system instead of committing on checkpoint completion. */
  noCommitOnCheckpoint: boolean;
}

export interface DataflowSettings {
  /** Records per emission of a source subtask, and how often it emits. */
  batch: number;
  emitIntervalMs: number;
}

interface SourceState {
  offset: number;
}

interface SinkState {
  counts: Array<[number, number]>;
  pending: Array<[number, SinkRecord[]]>;
}

/** Listens for the invariants that concern deployments (see invariants.ts). */
export interface DeploymentAudit {
  deployed(tdd: TaskDeploymentDescriptor): void;
}

export class SimTaskRuntime implements TaskRuntime {
  private readonly subtasks = new Map<string, Subtask>();

  constructor(
    readonly taskExecutorId: string,
    readonly node: SimNode,
    readonly dataflow: SimDataflow,
    readonly rng: Rng,
    readonly settings: DataflowSettings,
    readonly mutants: TaskMutants,
    private readonly audit: DeploymentAudit,
  ) {}

  deploy(tdd: TaskDeploymentDescriptor, _slot: { managedMemoryBytes: number }, onEvent: (event: TaskEvent) => void): void {
    if (this.subtasks.has(tdd.executionId)) {
      this.later(() => onEvent({ type: 'task.state', executionId: tdd.executionId, state: 'failed', error: { code: 'DUPLICATE_DEPLOYMENT', message: 'deployed twice' } }));
      return;
    }
    this.audit.deployed(tdd);
    const subtask = new Subtask(this, tdd, onEvent);
    this.subtasks.set(tdd.executionId, subtask);
    subtask.start();
  }

  cancel(executionId: string): void {
    this.subtasks.get(executionId)?.end('canceled');
  }

  cancelJob(jobId: string): void {
    for (const subtask of [...this.subtasks.values()]) if (subtask.tdd.jobId === jobId) subtask.end('canceled');
  }

  triggerCheckpoint(executionId: string, checkpointId: number, options: CheckpointOptions): void {
    this.subtasks.get(executionId)?.trigger(checkpointId, options.dir);
  }

  notifyCheckpointComplete(jobId: string, attempt: number, checkpointId: number): void {
    for (const subtask of [...this.subtasks.values()]) if (subtask.tdd.jobId === jobId && subtask.tdd.attempt === attempt) subtask.checkpointComplete(checkpointId);
  }

  notifyCheckpointAborted(jobId: string, attempt: number, checkpointId: number): void {
    // An aborted checkpoint's transaction stays pending: the next completed checkpoint commits it.
    for (const subtask of [...this.subtasks.values()]) if (subtask.tdd.jobId === jobId && subtask.tdd.attempt === attempt) subtask.checkpointAborted(checkpointId);
  }

  abortPendingCheckpoints(jobId: string): void {
    // The leader is gone: an alignment in progress is abandoned (its checkpoint can never complete).
    for (const subtask of [...this.subtasks.values()]) if (subtask.tdd.jobId === jobId) subtask.abandonAlignment();
  }

  /** A fault: one running subtask fails (a user-code exception). */
  failOne(): boolean {
    const running = [...this.subtasks.values()].filter((s) => s.running);
    if (running.length === 0) return false;
    this.rng.pick(running).end('failed', { code: 'SIM_TASK_FAILURE', message: 'injected task failure' });
    return true;
  }

  /** The process died: its subtasks vanish without a word. */
  kill(): void {
    for (const subtask of this.subtasks.values()) subtask.vanish();
    this.subtasks.clear();
  }

  forget(subtask: Subtask): void {
    if (this.subtasks.get(subtask.tdd.executionId) === subtask) this.subtasks.delete(subtask.tdd.executionId);
  }

  /** Run `fn` on this TaskExecutor shortly (events never arrive inside the call that caused them). */
  later(fn: () => void, minMs = 1, maxMs = 3): void {
    this.node.clock.setTimeout(fn, this.rng.int(minMs, maxMs));
  }
}

class Subtask {
  running = false;
  private ended = false;
  private readonly isSource: boolean;
  private readonly id: string;
  // source
  private offset = 0;
  private exhaustedReported = false;
  private finalCheckpoint: number | null = null;
  private emitTimer: unknown = null;
  // counting sink
  private readonly inputs: string[];
  private counts = new Map<number, number>();
  private open: SinkRecord[] = [];
  private pending = new Map<number, SinkRecord[]>();
  private readonly blocked = new Set<string>();
  private readonly endedInputs = new Set<string>();
  private readonly queued = new Map<string, Element[]>();
  /** The checkpoint whose barriers are being aligned, the channels they came on, the last one aligned. */
  private aligning: number | null = null;
  private readonly seen = new Set<string>();
  private lastAligned = 0;

  constructor(
    private readonly runtime: SimTaskRuntime,
    readonly tdd: TaskDeploymentDescriptor,
    private readonly onEvent: (event: TaskEvent) => void,
  ) {
    this.id = tdd.executionId;
    this.isSource = tdd.inputs.length === 0;
    this.inputs = tdd.inputs.flatMap((input) =>
      input.producers.map((p) => channelId(tdd.jobId, tdd.attempt, input.sourceVertexId, p.subtaskIndex, tdd.vertexId, tdd.subtaskIndex)),
    );
  }

  private get dataflow(): SimDataflow {
    return this.runtime.dataflow;
  }

  private get statePath(): (dir: string) => string {
    return (dir) => `${dir}/${this.tdd.vertexId}-${this.tdd.subtaskIndex}`;
  }

  start(): void {
    if (this.tdd.restore) {
      const handle = this.tdd.restore.handles.find((h) => h.subtaskIndex === this.tdd.subtaskIndex);
      const state = handle ? this.dataflow.storage.get(handle.path) : undefined;
      if (state === undefined) {
        this.runtime.later(() => this.end('failed', { code: 'SIM_STATE_MISSING', message: `no snapshot of ${this.id} in checkpoint ${this.tdd.restore!.checkpointId}` }));
        return;
      }
      this.restore(structuredClone(state) as SourceState | SinkState);
    }
    this.runtime.later(() => {
      if (this.ended) return;
      this.running = true;
      this.onEvent({ type: 'task.state', executionId: this.id, state: 'running' });
      if (this.isSource) this.scheduleEmit();
      else {
        this.dataflow.register(this.id, this);
        for (const [channel, elements] of this.dataflow.takeHeld(this.inputs)) for (const e of elements) this.receive(channel, e);
      }
    });
  }

  get node() {
    return this.runtime.node;
  }

  private restore(state: SourceState | SinkState): void {
    if (this.isSource) {
      this.offset = (state as SourceState).offset;
      return;
    }
    const sink = state as SinkState;
    this.counts = new Map(sink.counts);
    this.pending = new Map(sink.pending);
    // The restored checkpoint completed: its pre-committed transactions are committed (again: idempotent).
    this.commitUpTo(this.tdd.restore!.checkpointId);
  }

  // ---- source ----

  private myRecords(): number {
    const { totalRecords } = this.dataflow;
    const p = this.tdd.parallelism;
    return Math.floor(totalRecords / p) + (this.tdd.subtaskIndex < totalRecords % p ? 1 : 0);
  }

  private scheduleEmit(): void {
    this.emitTimer = this.runtime.node.clock.setTimeout(() => this.emit(), this.runtime.settings.emitIntervalMs);
  }

  private emit(): void {
    if (this.ended) return;
    const mine = this.myRecords();
    const byConsumer = new Map<number, Array<{ id: number; key: number }>>();
    const consumers = this.tdd.outputs[0]?.consumers.length ?? 1;
    for (let i = 0; i < this.runtime.settings.batch && this.offset < mine; i++, this.offset++) {
      const id = this.tdd.subtaskIndex + this.offset * this.tdd.parallelism;
      const key = id % this.dataflow.keys;
      const target = key % consumers;
      byConsumer.set(target, [...(byConsumer.get(target) ?? []), { id, key }]);
    }
    for (const [target, records] of byConsumer) if (!this.sendTo(target, { t: 'records', records })) return;
    if (this.offset >= mine) {
      if (!this.exhaustedReported) {
        this.exhaustedReported = true;
        this.onEvent({ type: 'task.source.exhausted', executionId: this.id });
      }
      return;
    }
    this.scheduleEmit();
  }

  /** False (and this subtask failed) when the data connection to the consumer is lost. */
  private sendTo(consumerIndex: number, element: Element): boolean {
    for (const out of this.tdd.outputs) {
      const consumer = out.consumers.find((c) => c.subtaskIndex === consumerIndex);
      if (!consumer) continue;
      const channel = channelId(this.tdd.jobId, this.tdd.attempt, this.tdd.vertexId, this.tdd.subtaskIndex, out.targetVertexId, consumerIndex);
      const target = executionIdOf(this.tdd.jobId, this.tdd.attempt, out.targetVertexId, consumerIndex);
      if (!this.dataflow.send(this.runtime.taskExecutorId, consumer.location.taskExecutorId, channel, target, element)) {
        this.end('failed', { code: 'SIM_DATA_CONNECTION_LOST', message: `data connection to ${consumer.location.taskExecutorId} lost` });
        return false;
      }
    }
    return true;
  }

  private broadcast(element: Element): boolean {
    const consumers = this.tdd.outputs[0]?.consumers ?? [];
    for (const c of consumers) if (!this.sendTo(c.subtaskIndex, element)) return false;
    return true;
  }

  trigger(checkpointId: number, dir: string): void {
    if (!this.running || !this.isSource) return;
    if (this.exhaustedReported && this.finalCheckpoint === null) this.finalCheckpoint = checkpointId;
    this.snapshot(checkpointId, dir, { offset: this.offset } satisfies SourceState);
    this.broadcast({ t: 'barrier', checkpointId, dir });
  }

  checkpointComplete(checkpointId: number): void {
    if (!this.running) return;
    if (!this.isSource) {
      if (!this.runtime.mutants.noCommitOnCheckpoint) this.commitUpTo(checkpointId);
      return;
    }
    if (this.finalCheckpoint !== null && checkpointId >= this.finalCheckpoint) {
      if (this.broadcast({ t: 'end' })) this.end('finished');
    }
  }

  private snapshot(checkpointId: number, dir: string, state: SourceState | SinkState): void {
    const path = this.statePath(dir);
    this.runtime.later(() => {
      if (this.ended) return;
      this.dataflow.storage.set(path, structuredClone(state));
      this.onEvent({ type: 'task.checkpoint.ack', executionId: this.id, checkpointId, handle: { vertexId: this.tdd.vertexId, subtaskIndex: this.tdd.subtaskIndex, path, bytes: 64 } });
    });
  }

  // ---- counting sink ----

  receive(channel: string, element: Element): void {
    if (this.ended) return;
    if (!this.running || (this.blocked.has(channel) && !this.runtime.mutants.noAlignment)) {
      this.queued.set(channel, [...(this.queued.get(channel) ?? []), element]);
      return;
    }
    switch (element.t) {
      case 'records':
        for (const { id, key } of element.records) {
          const count = (this.counts.get(key) ?? 0) + 1;
          this.counts.set(key, count);
          const record = { id, key, count };
          if (this.runtime.mutants.noCommitOnCheckpoint) this.dataflow.commit(this.tdd.jobId, `${this.id}/direct-${id}-${count}`, 0, [record]);
          else this.open.push(record);
        }
        return;
      case 'barrier': {
        const id = element.checkpointId;
        if (id <= this.lastAligned || (this.aligning !== null && id < this.aligning)) return; // of a checkpoint given up
        // A newer checkpoint's barrier: the one being aligned will never complete (a trigger was lost).
        if (this.aligning !== null && id > this.aligning) this.release();
        this.aligning = id;
        this.seen.add(channel);
        this.blocked.add(channel);
        if (this.inputs.every((c) => this.seen.has(c) || this.endedInputs.has(c))) this.aligned(id, element.dir);
        return;
      }
      case 'end':
        this.endedInputs.add(channel);
        if (this.inputs.every((c) => this.endedInputs.has(c))) {
          // End of input comes after the final checkpoint completed: what is pending is committed.
          if (!this.runtime.mutants.noCommitOnCheckpoint) this.commitUpTo(Number.MAX_SAFE_INTEGER);
          this.end('finished');
        }
        return;
    }
  }

  private aligned(checkpointId: number, dir: string): void {
    this.lastAligned = checkpointId;
    this.pending.set(checkpointId, this.open);
    this.open = [];
    this.snapshot(checkpointId, dir, { counts: [...this.counts], pending: [...this.pending] } satisfies SinkState);
    this.release();
  }

  checkpointAborted(checkpointId: number): void {
    if (this.aligning === checkpointId) this.release();
  }

  abandonAlignment(): void {
    if (this.aligning !== null) this.release();
  }

  /** The alignment ends: every channel flows again, what was held first, in order. */
  private release(): void {
    this.aligning = null;
    this.seen.clear();
    this.blocked.clear();
    const queued = [...this.queued];
    this.queued.clear();
    for (const [channel, elements] of queued) for (const e of elements) this.receive(channel, e);
  }

  private commitUpTo(checkpointId: number): void {
    for (const [id, records] of [...this.pending].sort((a, b) => a[0] - b[0])) {
      if (id > checkpointId) break;
      this.dataflow.commit(this.tdd.jobId, `${this.tdd.jobId}/${this.tdd.vertexId}/${this.tdd.subtaskIndex}/chk-${id}`, id, records);
      this.pending.delete(id);
    }
  }

  // ---- lifecycle ----

  end(state: 'finished' | 'failed' | 'canceled', error?: WireError): void {
    if (this.ended) return;
    this.stop();
    this.runtime.later(() => this.onEvent({ type: 'task.state', executionId: this.id, state, ...(error ? { error } : {}) }));
  }

  vanish(): void {
    this.stop();
  }

  private stop(): void {
    this.ended = true;
    this.running = false;
    if (this.emitTimer !== null) this.runtime.node.clock.clearTimeout(this.emitTimer);
    this.dataflow.unregister(this.id, this);
    this.runtime.forget(this);
  }
}

function channelId(jobId: string, attempt: number, producerVertex: string, producerIndex: number, consumerVertex: string, consumerIndex: number): string {
  return `${jobId}/${attempt}/${producerVertex}/${producerIndex}>${consumerVertex}/${consumerIndex}`;
}
