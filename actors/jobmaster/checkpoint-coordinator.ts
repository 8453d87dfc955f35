/**
 * The bookkeeping of a job's checkpoints (Carbone et al.'s asynchronous barrier snapshots, as
 * Flink's CheckpointCoordinator): which checkpoints are in flight, which subtasks have
 * acknowledged them, when the next may start, and the history that operators look at.
 *
 * A checkpoint is `pending` from its trigger until every subtask acknowledged it (then the
 * JobMaster stores its metadata and it is `completed`) or until one subtask declines, it times
 * out, or its metadata cannot be stored (`aborted`). A subtask that finishes while a checkpoint
 * is pending owes it nothing any more: its last handle is carried forward instead (a finished
 * subtask reads and emits nothing after its final checkpoint). Nothing here does I/O or reads
 * a clock; the JobMaster machine drives it, passes the time and performs the effects (its
 * timeout is a machine delay per checkpoint, see machine.ts).
 *
 * Savepoints never wait for a periodic slot and are never refused because a checkpoint is in
 * flight: they queue (boundedly) and run as soon as the checkpoint in flight ends; the
 * periodic trigger yields to them.
 */
import type { CheckpointConfig } from '../../lib/dataflow/job-config.js';
import type { StateHandle } from '../../lib/task/descriptor.js';
import type { SavepointRequest } from './protocol.js';

export interface PendingCheckpoint {
  id: number;
  attempt: number;
  triggeredAt: number;
  dir: string;
  savepoint: boolean;
  /** Execution ids that still owe an acknowledgement. */
  awaiting: Set<string>;
  handles: StateHandle[];
  /** Set when fully acknowledged: `handles` plus those carried forward for finished subtasks. */
  allHandles?: StateHandle[];
}

export interface CheckpointStats {
  /** The checkpoint id; negative for a trigger that failed before it got one. */
  id: number;
  /** `failed`: the trigger itself failed (e.g. etcd unreachable: no id could be drawn). */
  status: 'pending' | 'completed' | 'aborted' | 'failed';
  savepoint: boolean;
  triggeredAt: number;
  durationMs: number | null;
  bytes: number;
  /** Completed: subtasks that had finished, whose last handle was carried forward into it. */
  carried?: number;
  reason?: string;
}

/** Metadata of a completed checkpoint, as the completed checkpoint store (etcd) keeps it. */
export interface CompletedCheckpoint {
  checkpointId: number;
  jobId: string;
  attempt: number;
  triggeredAt: number;
  completedAt: number;
  dir: string;
  savepoint: boolean;
  bytes: number;
  handles: StateHandle[];
}

const HISTORY = 50;
/** Savepoints that may wait for the checkpoint in flight; more are refused (a client cannot grow the queue). */
export const MAX_QUEUED_SAVEPOINTS = 8;
/** A savepoint waits this long for a periodic checkpoint in flight, then preempts it. */
export const SAVEPOINT_MAX_WAIT_MS = 10_000;

function subtaskKey(h: StateHandle): string {
  return `${h.vertexId}#${h.subtaskIndex}`;
}

export class CheckpointCoordinator {
  private readonly pending = new Map<number, PendingCheckpoint>();
  private readonly history: CheckpointStats[] = [];
  private lastCompletedAt = 0;
  private failedTriggers = 0;
  /** The latest completed checkpoint's handle of every subtask, by `vertexId#index`. */
  private readonly lastHandles = new Map<string, StateHandle>();
  /** Savepoints waiting for the checkpoint in flight to end, oldest first, with their ticket. */
  private readonly queued: Array<{ ticket: number; request: SavepointRequest }> = [];
  private tickets = 0;
  /** A trigger is on its way (waiting for a checkpoint id from the counter). */
  triggering = false;
  /**
   * An id drawn ahead from the counter (an etcd write), so that a trigger need not wait for
   * one: on a loaded machine that write alone took up to a quarter of a second.
   */
  private spareId: number | null = null;
  /** A spare id is being drawn. */
  fetchingSpareId = false;
  /** Highest id begun: ids must grow (tasks take older barriers for stale ones). */
  private highestBegun = 0;

  constructor(
    readonly config: CheckpointConfig,
    readonly jobId: string,
  ) {}

  /** Whether a periodic checkpoint may start now. Savepoints only respect concurrency. */
  canTrigger(now: number, savepoint = false): boolean {
    if (this.triggering || this.pending.size >= this.config.maxConcurrent) return false;
    return savepoint || now - this.lastCompletedAt >= this.config.minPauseMs;
  }

  /** The id drawn ahead, if any, taken. */
  takeSpareId(): number | null {
    const id = this.spareId;
    this.spareId = null;
    return id;
  }

  /** Whether an id should be drawn ahead now. */
  wantsSpareId(): boolean {
    return this.spareId === null && !this.fetchingSpareId;
  }

  /** An id drawn ahead arrived (null: the draw failed); kept only if it is above every id begun. */
  offerSpareId(id: number | null): void {
    this.fetchingSpareId = false;
    if (id !== null && id > this.highestBegun) this.spareId = id;
  }

  begin(id: number, attempt: number, now: number, dir: string, savepoint: boolean, participants: string[]): PendingCheckpoint {
    this.highestBegun = Math.max(this.highestBegun, id);
    if (this.spareId !== null && this.spareId <= id) this.spareId = null;
    const checkpoint: PendingCheckpoint = { id, attempt, triggeredAt: now, dir, savepoint, awaiting: new Set(participants), handles: [] };
    this.pending.set(id, checkpoint);
    this.record({ id, status: 'pending', savepoint, triggeredAt: now, durationMs: null, bytes: 0 });
    return checkpoint;
  }

  /** Queues a savepoint behind the checkpoint in flight: its ticket, or null when the queue is full. */
  queueSavepoint(request: SavepointRequest): number | null {
    if (this.queued.length >= MAX_QUEUED_SAVEPOINTS) return null;
    const ticket = ++this.tickets;
    this.queued.push({ ticket, request });
    return ticket;
  }

  /** Whether the savepoint of `ticket` still waits. */
  isQueued(ticket: number): boolean {
    return this.queued.some((q) => q.ticket === ticket);
  }

  /** Savepoints are queued: the periodic trigger yields to them. */
  get savepointsQueued(): number {
    return this.queued.length;
  }

  /** The oldest queued savepoint, removed from the queue. */
  takeQueuedSavepoint(): SavepointRequest | undefined {
    return this.queued.shift()?.request;
  }

  /** Every queued savepoint, removed (to fail them when the job stops or restarts). */
  drainQueuedSavepoints(): SavepointRequest[] {
    return this.queued.splice(0).map((q) => q.request);
  }

  get(id: number): PendingCheckpoint | undefined {
    return this.pending.get(id);
  }

  /** Returns the checkpoint once its last acknowledgement arrived, else undefined. */
  acknowledge(id: number, executionId: string, handle: StateHandle): PendingCheckpoint | undefined {
    const checkpoint = this.pending.get(id);
    if (!checkpoint || !checkpoint.awaiting.delete(executionId)) return undefined;
    checkpoint.handles.push(handle);
    return checkpoint.awaiting.size === 0 ? checkpoint : undefined;
  }

  /**
   * A subtask finished: no pending checkpoint waits for it any more (it ignores triggers once
   * it ends, and its state is that of its final checkpoint). Returns the checkpoints that this
   * made fully acknowledged; each is returned once, by this or by `acknowledge`.
   */
  subtaskFinished(executionId: string): PendingCheckpoint[] {
    const complete: PendingCheckpoint[] = [];
    for (const checkpoint of this.pending.values()) {
      if (checkpoint.awaiting.delete(executionId) && checkpoint.awaiting.size === 0) complete.push(checkpoint);
    }
    return complete;
  }

  /**
   * Metadata of a fully acknowledged checkpoint (still pending until stored). A subtask that
   * had finished took no part, yet a restore needs a handle for every subtask: its last one
   * is carried forward (Flink's FLIP-147 does the same).
   */
  metadata(checkpoint: PendingCheckpoint, now: number): CompletedCheckpoint {
    const acked = new Set(checkpoint.handles.map(subtaskKey));
    const carried = [...this.lastHandles.values()].filter((h) => !acked.has(subtaskKey(h)));
    checkpoint.allHandles = [...checkpoint.handles, ...carried];
    return {
      checkpointId: checkpoint.id,
      jobId: this.jobId,
      attempt: checkpoint.attempt,
      triggeredAt: checkpoint.triggeredAt,
      completedAt: now,
      dir: checkpoint.dir,
      savepoint: checkpoint.savepoint,
      bytes: checkpoint.allHandles.reduce((n, h) => n + h.bytes, 0),
      handles: checkpoint.allHandles,
    };
  }

  /** Start from a restored checkpoint's handles (what finished subtasks carry forward). */
  restoredFrom(handles: readonly StateHandle[]): void {
    this.lastHandles.clear();
    for (const h of handles) this.lastHandles.set(subtaskKey(h), h);
  }

  complete(id: number, now: number): CheckpointStats | undefined {
    const checkpoint = this.pending.get(id);
    if (!checkpoint) return undefined;
    this.pending.delete(id);
    this.lastCompletedAt = now;
    if (!checkpoint.savepoint) this.restoredFrom(checkpoint.allHandles ?? checkpoint.handles);
    const stats: CheckpointStats = {
      id,
      status: 'completed',
      savepoint: checkpoint.savepoint,
      triggeredAt: checkpoint.triggeredAt,
      durationMs: now - checkpoint.triggeredAt,
      bytes: checkpoint.handles.reduce((n, h) => n + h.bytes, 0),
      carried: (checkpoint.allHandles?.length ?? checkpoint.handles.length) - checkpoint.handles.length,
    };
    this.record(stats);
    return stats;
  }

  abort(id: number, now: number, reason: string): PendingCheckpoint | undefined {
    const checkpoint = this.pending.get(id);
    if (!checkpoint) return undefined;
    this.pending.delete(id);
    this.record({ id, status: 'aborted', savepoint: checkpoint.savepoint, triggeredAt: checkpoint.triggeredAt, durationMs: now - checkpoint.triggeredAt, bytes: 0, reason });
    return checkpoint;
  }

  /** A trigger that failed before the checkpoint got an id. */
  triggerFailed(now: number, reason: string): void {
    this.triggering = false;
    this.failedTriggers++;
    this.record({ id: -this.failedTriggers, status: 'failed', savepoint: false, triggeredAt: now, durationMs: 0, bytes: 0, reason });
  }

  /** Every pending checkpoint, e.g. to abort them all on a restart. */
  inFlight(): PendingCheckpoint[] {
    return [...this.pending.values()];
  }

  /** Pending checkpoints that have reached their timeout at `now`. */
  expired(now: number): PendingCheckpoint[] {
    return this.inFlight().filter((c) => now - c.triggeredAt >= this.config.timeoutMs);
  }

  stats(): CheckpointStats[] {
    return [...this.history];
  }

  private record(stats: CheckpointStats): void {
    const i = this.history.findIndex((s) => s.id === stats.id);
    if (i >= 0) this.history[i] = stats;
    else this.history.push(stats);
    if (this.history.length > HISTORY) this.history.shift();
  }
}
