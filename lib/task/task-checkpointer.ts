/**
 * The snapshot of one subtask at one barrier (Flink's SubtaskCheckpointCoordinator):
 *
 *   1. synchronous phase, between two records: sinks pre-commit, the source's split positions
 *      are taken, every keyed backend is CUT (copy-on-write: one step per key group, not per
 *      key, see HeapKeyedStateBackend.freeze), the plan says which key groups this snapshot
 *      writes (all of them, or for an incremental checkpoint those changed since its base; the
 *      others are referred to the earlier object that holds them, see incremental.ts), and the
 *      header is encoded;
 *   2. the barrier goes out on every output channel, behind the records emitted before it;
 *   3. asynchronous phase: the key groups are encoded from the cut in slices of a few
 *      milliseconds, the task processing records between slices; the cut is released and the
 *      bytes are written atomically to checkpoint storage (an S3 upload, multipart when large,
 *      retried with backoff); then `cp.ack` with the handle, or `cp.declined` on any failure.
 *      A snapshot encoded within its first slice and small, to a FILE, of a task whose event
 *      loop turns slowly, is written at once instead (a millisecond or two, mostly fsync): an
 *      asynchronous write takes nine turns of the task's event loop, and a source whose
 *      function blocks between records (a paced source) turns it slowly, which made checkpoints
 *      of tiny state take seconds. A task that turns its loop quickly (the last turn measured
 *      at a barrier took under SLOW_TURN_MS) writes asynchronously: its thread does not wait
 *      for the disk. An upload to an object store cannot be synchronous: it is always started
 *      and awaited off the record path.
 *
 * A failure never fails the task: the checkpoint is declined and the coordinator aborts it.
 * An upload that ends after its checkpoint was aborted deletes what it wrote: the JobMaster
 * deleted the checkpoint's directory at the abort, before the object existed.
 */
import { performance } from 'node:perf_hooks';
import type { ChainRunner } from '../dataflow/operators.js';
import type { FrozenKeyedState, KeyGroupDelta, KeyGroupSnapshot } from '../dataflow/state.js';
import { toWireError } from '../errors.js';
import type { BarrierInfo } from '../network/messages.js';
import type { ResultPartition } from '../network/result-partition.js';
import type { StateHandle, TaskDeploymentDescriptor } from './descriptor.js';
import { CheckpointDeclinedError } from './errors.js';
import { planOperator, removalsNeededAfter, SnapshotHistory, type OperatorPlan } from './incremental.js';
import type { SinkWriters } from './sink-writers.js';
import { deleteObjects } from '../storage/index.js';
import { decodeSnapshotHeader, encodeKeyGroupRecord, encodeSnapshotHeader, snapshotPath, SNAPSHOT_VERSION, type SnapshotReferences, writeSnapshot, writeSnapshotSync } from './snapshot-store.js';
import type { FromWorker } from './worker-protocol.js';

/** Snapshots up to this size are written synchronously to file storage (see above). */
export const SYNC_SNAPSHOT_MAX_BYTES = 256 * 1024;
/** A task whose event loop took longer than this to turn (measured from a barrier) writes small snapshots synchronously. */
export const SLOW_TURN_MS = 1;
/** Encoding of key groups runs in slices of about this long, records being processed between them. */
export const ENCODE_SLICE_MS = 4;

export interface CheckpointerParts {
  readonly chain: Pick<ChainRunner, 'keyedBackends' | 'sourcePositions' | 'operatorStateSnapshot'>;
  readonly sinks: Pick<SinkWriters, 'snapshot'>;
  readonly partitions: readonly Pick<ResultPartition, 'broadcastBarrier'>[];
  readonly post: (msg: FromWorker) => void;
}

/** How the last snapshot went, for benchmarks and logs. */
export interface SnapshotTimings {
  readonly checkpointId: number;
  /** The synchronous phase: the pause of the task. */
  readonly syncMs: number;
  /** Key groups encoded, and those referred to earlier objects. */
  readonly written: number;
  readonly referenced: number;
  /** The longest slice of the asynchronous encoding (the task is paused for each). */
  readonly longestSliceMs: number;
}

/** One key group to encode: whole, or as a delta since the cut of `since`. */
interface GroupWrite {
  readonly cut: FrozenKeyedState;
  readonly op: string;
  readonly plan: OperatorPlan;
  readonly keyGroup: number;
  readonly since: number | undefined;
}

/** One snapshot between its cut and its write. */
interface SnapshotJob {
  readonly barrier: BarrierInfo;
  readonly path: string;
  readonly cuts: FrozenKeyedState[];
  /** What remains to encode, consumed from `next`. */
  readonly todo: GroupWrite[];
  next: number;
  /** The header first, then a record per key group. */
  readonly chunks: Buffer[];
  bytes: number;
  /** By operator: what the snapshot writes and refers to (a delta written whole instead changes it). */
  readonly plans: ReadonlyMap<string, OperatorPlan>;
  /** A delta was written as a full record: the header's references are encoded again. */
  rewritten: boolean;
  readonly syncMs: number;
  longestSliceMs: number;
}

export class TaskCheckpointer {
  private writing = 0;
  /** Checkpoints with an upload in flight, and whether each was aborted meanwhile. */
  private readonly uploads = new Map<number, { aborted: boolean }>();
  /** Where this subtask's recent snapshots put each key group (incremental checkpoints). */
  readonly history = new SnapshotHistory();
  /** The last snapshot's timings. */
  lastTimings: SnapshotTimings | undefined;
  /** How long the task's event loop took to turn after the last barrier (undefined: not yet measured, taken as slow). */
  private turnMs: number | undefined;
  /** Called whenever an asynchronous write ends (the task may be waiting to finish). */
  onIdle: () => void = () => undefined;

  constructor(
    private readonly tdd: TaskDeploymentDescriptor,
    private readonly parts: CheckpointerParts,
  ) {}

  /** Snapshot writes still running. */
  get inFlight(): number {
    return this.writing;
  }

  /** Takes the snapshot for `barrier`, forwards the barrier, and starts the write. */
  checkpoint(barrier: BarrierInfo): void {
    const started = performance.now();
    const slowLoop = this.turnMs === undefined || this.turnMs > SLOW_TURN_MS;
    try {
      this.takeSnapshot(barrier, started, slowLoop);
    } finally {
      const returned = performance.now();
      setImmediate(() => (this.turnMs = performance.now() - returned));
    }
  }

  private takeSnapshot(barrier: BarrierInfo, started: number, slowLoop: boolean): void {
    const id = barrier.checkpointId;
    let job: SnapshotJob | undefined;
    const cuts: FrozenKeyedState[] = [];
    try {
      job = this.cut(barrier, started, cuts);
    } catch (err) {
      for (const cut of cuts) cut.release();
      this.decline(id, 'taking the snapshot failed', err);
    }
    // Forwarded even after a failed snapshot, so that downstream alignment does not stall.
    for (const p of this.parts.partitions) p.broadcastBarrier(barrier);
    if (job === undefined) return;
    // A small state is encoded within the first slice, and written at once by a slow loop (see above).
    let done = false;
    try {
      done = this.encodeSlice(job);
    } catch (err) {
      this.release(job);
      this.decline(id, 'encoding the snapshot failed', err);
      return;
    }
    if (done && slowLoop && job.bytes <= SYNC_SNAPSHOT_MAX_BYTES && this.persistNow(job)) return;
    void this.persist(job, done);
  }

  /** The coordinator completed `checkpointId`: the next checkpoint may refer to its files. */
  completed(checkpointId: number): void {
    this.history.completed(checkpointId);
  }

  /** The coordinator aborted `checkpointId`: an upload of it still in flight is deleted when it ends. */
  aborted(checkpointId: number): void {
    this.history.aborted(checkpointId);
    const upload = this.uploads.get(checkpointId);
    if (upload) upload.aborted = true;
  }

  /** The leader is gone: every upload in flight is abandoned (deleted when it ends, never acknowledged). */
  abortAll(): void {
    for (const upload of this.uploads.values()) upload.aborted = true;
  }

  /** Declines a checkpoint without a snapshot (e.g. superseded during alignment). */
  decline(checkpointId: number, problem: string, cause?: unknown): void {
    const error = new CheckpointDeclinedError(this.tdd.executionId, checkpointId, `${problem}${cause instanceof Error ? `: ${cause.message}` : ''}`, cause);
    this.parts.post({ t: 'cp.declined', checkpointId, error: toWireError(error) });
  }

  declineWith(checkpointId: number, error: Error): void {
    this.parts.post({ t: 'cp.declined', checkpointId, error: toWireError(error) });
  }

  /** The synchronous phase: sinks, positions, the cuts, the plan and the header. */
  private cut(barrier: BarrierInfo, started: number, cuts: FrozenKeyedState[]): SnapshotJob {
    const id = barrier.checkpointId;
    const path = snapshotPath(barrier.dir, this.tdd.vertexId, this.tdd.subtaskIndex);
    const sinks = this.parts.sinks.snapshot(id);
    const sourcePositions = this.parts.chain.sourcePositions();
    const operatorState = this.parts.chain.operatorStateSnapshot();
    // A savepoint is self-contained: it refers to nothing, and nothing will refer to it.
    const base = barrier.savepoint || this.tdd.incrementalCheckpoints === false ? undefined : this.history.base();
    const todo: GroupWrite[] = [];
    const plans = new Map<string, OperatorPlan>();
    const generations = new Map<string, number>();
    for (const [op, backend] of this.parts.chain.keyedBackends()) {
      if (base !== undefined) backend.forgetRemovals(removalsNeededAfter(op, base.record));
      const cut = backend.freeze();
      cuts.push(cut);
      const plan = planOperator(op, cut, backend, path, base?.record);
      for (const w of plan.write) todo.push({ cut, op, plan, keyGroup: w.keyGroup, since: w.since });
      plans.set(op, plan);
      generations.set(op, cut.generation);
    }
    const { references, shared } = referencesOf(plans);
    if (!barrier.savepoint) {
      const locations = new Map([...plans].map(([op, plan]) => [op, plan.locations] as const));
      const anchors = new Map([...plans].map(([op, plan]) => [op, plan.anchors] as const));
      this.history.remember(id, { generations, locations, anchors, ...(shared.length === 0 ? {} : { basedOn: base!.checkpointId }) });
    }
    const header = encodeSnapshotHeader({
      version: SNAPSHOT_VERSION,
      checkpointId: id,
      vertexId: this.tdd.vertexId,
      subtaskIndex: this.tdd.subtaskIndex,
      parallelism: this.tdd.parallelism,
      ...(sourcePositions === undefined ? {} : { sourcePositions }),
      ...(operatorState === undefined ? {} : { operatorState }),
      sinks,
      ...(references === undefined ? {} : { references }),
      groups: todo.length,
    });
    return { barrier, path, cuts, todo, next: 0, chunks: [header], bytes: header.length, plans, rewritten: false, syncMs: performance.now() - started, longestSliceMs: 0 };
  }

  /** Encodes key groups for about ENCODE_SLICE_MS; true once all are encoded (the cuts are then released). */
  private encodeSlice(job: SnapshotJob): boolean {
    const started = performance.now();
    while (job.next < job.todo.length) {
      const chunk = this.encodeGroup(job, job.todo[job.next++]!);
      job.chunks.push(chunk);
      job.bytes += chunk.length;
      if (performance.now() - started >= ENCODE_SLICE_MS) break;
    }
    job.longestSliceMs = Math.max(job.longestSliceMs, performance.now() - started);
    if (job.next < job.todo.length) return false;
    this.release(job);
    if (job.rewritten) this.reencodeHeader(job);
    return true;
  }

  /** One key group's record: a delta that would hold more than half of its key group is written whole (see incremental.ts). */
  private encodeGroup(job: SnapshotJob, { cut, op, plan, keyGroup, since }: GroupWrite): Buffer {
    let group: KeyGroupSnapshot | KeyGroupDelta | undefined;
    if (since !== undefined) {
      group = cut.keyGroupDelta(keyGroup, since, Math.floor(cut.keyGroupEntries(keyGroup) / 2));
      if (group === undefined) {
        plan.references.delete(keyGroup);
        plan.locations.set(keyGroup, [job.path]);
        plan.anchors.set(keyGroup, { length: 1, generation: cut.generation });
        job.rewritten = true;
      }
    }
    group ??= cut.keyGroupSnapshot(keyGroup);
    if (group === undefined) throw new Error(`key group ${keyGroup} of '${op}' vanished from its cut`);
    return encodeKeyGroupRecord(op, group);
  }

  /** The header again, with the references of key groups written whole instead of as deltas taken out. */
  private reencodeHeader(job: SnapshotJob): void {
    const { references, ...header } = decodeSnapshotHeader(job.chunks[0]!);
    const now = referencesOf(job.plans).references;
    const encoded = encodeSnapshotHeader({ ...header, ...(now === undefined ? {} : { references: now }) });
    job.bytes += encoded.length - job.chunks[0]!.length;
    job.chunks[0] = encoded;
  }

  private release(job: SnapshotJob): void {
    for (const cut of job.cuts) cut.release();
  }

  private handleOf(job: SnapshotJob): StateHandle {
    const { vertexId, subtaskIndex } = this.tdd;
    this.lastTimings = {
      checkpointId: job.barrier.checkpointId,
      syncMs: job.syncMs,
      written: job.todo.length,
      referenced: job.cuts.reduce((n, c) => n + c.keyGroups.length, 0) - job.todo.length,
      longestSliceMs: job.longestSliceMs,
    };
    const { shared } = referencesOf(job.plans);
    return { vertexId, subtaskIndex, path: job.path, bytes: job.bytes, ...(shared.length === 0 ? {} : { shared }) };
  }

  /** True if the snapshot was handled here (written or declined); false if storage is not a file system. */
  private persistNow(job: SnapshotJob): boolean {
    const bytes = Buffer.concat(job.chunks, job.bytes);
    try {
      if (!writeSnapshotSync(job.path, bytes)) return false;
    } catch (err) {
      this.decline(job.barrier.checkpointId, `writing ${job.path} failed`, err);
      return true;
    }
    this.parts.post({ t: 'cp.ack', checkpointId: job.barrier.checkpointId, handle: this.handleOf(job) });
    return true;
  }

  private async persist(job: SnapshotJob, encoded: boolean): Promise<void> {
    const id = job.barrier.checkpointId;
    const upload = { aborted: false };
    this.uploads.set(id, upload);
    this.writing++;
    try {
      while (!encoded) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (upload.aborted) return this.release(job);
        encoded = this.encodeSlice(job);
      }
      await writeSnapshot(job.path, Buffer.concat(job.chunks, job.bytes));
      if (upload.aborted) await deleteObjects([job.path]).catch(() => undefined); // best effort: a leftover is never referenced
      else this.parts.post({ t: 'cp.ack', checkpointId: id, handle: this.handleOf(job) });
    } catch (err) {
      this.release(job);
      if (!upload.aborted) this.decline(id, `writing ${job.path} failed`, err);
    } finally {
      this.uploads.delete(id);
      this.writing--;
      this.onIdle();
    }
  }
}

/** The header's references (by operator, `[keyGroup, chain]`) and every earlier object they name. */
function referencesOf(plans: ReadonlyMap<string, OperatorPlan>): { references: SnapshotReferences | undefined; shared: string[] } {
  const references: Record<string, Array<readonly [number, readonly string[]]>> = {};
  const shared = new Set<string>();
  for (const [op, plan] of plans) {
    if (plan.references.size === 0) continue;
    references[op] = [...plan.references];
    for (const chain of plan.references.values()) for (const at of chain) shared.add(at);
  }
  return { references: Object.keys(references).length === 0 ? undefined : references, shared: [...shared] };
}
