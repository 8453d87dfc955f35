/**
 * The snapshot of one subtask at one barrier (Flink's SubtaskCheckpointCoordinator):
 *
 *   1. synchronous phase, between two records: sinks pre-commit, the chain's keyed state and
 *      source position are taken and ENCODED (the state shares live values);
 *   2. the barrier goes out on every output channel, behind the records emitted before it;
 *   3. asynchronous phase: the bytes are written atomically to checkpoint storage while the
 *      task goes on (an S3 upload, multipart when large, retried with backoff); then `cp.ack`
 *      with the handle, or `cp.declined` on any failure. A small snapshot to a FILE is written
 *      at once instead (a millisecond or two): an asynchronous write takes nine turns of the
 *      task's event loop, and a source whose function blocks between records (a paced source)
 *      turns it slowly, which made checkpoints of tiny state take seconds. An upload to an
 *      object store cannot be synchronous: it is always started and awaited off the record path.
 *
 * A failure never fails the task: the checkpoint is declined and the coordinator aborts it.
 * An upload that ends after its checkpoint was aborted deletes what it wrote: the JobMaster
 * deleted the checkpoint's directory at the abort, before the object existed.
 */
import type { ChainRunner } from '../dataflow/operators.js';
import { toWireError } from '../errors.js';
import type { BarrierInfo } from '../network/messages.js';
import type { ResultPartition } from '../network/result-partition.js';
import type { TaskDeploymentDescriptor } from './descriptor.js';
import { CheckpointDeclinedError } from './errors.js';
import type { SinkWriters } from './sink-writers.js';
import { deleteObjects } from '../storage/index.js';
import { encodeSnapshot, snapshotPath, SNAPSHOT_VERSION, writeSnapshot, writeSnapshotSync } from './snapshot-store.js';
import type { FromWorker } from './worker-protocol.js';

/** Snapshots up to this size are written synchronously to file storage (see above). */
export const SYNC_SNAPSHOT_MAX_BYTES = 256 * 1024;

export interface CheckpointerParts {
  readonly chain: ChainRunner;
  readonly sinks: SinkWriters;
  readonly partitions: readonly ResultPartition[];
  readonly post: (msg: FromWorker) => void;
}

export class TaskCheckpointer {
  private writing = 0;
  /** Checkpoints with an upload in flight, and whether each was aborted meanwhile. */
  private readonly uploads = new Map<number, { aborted: boolean }>();
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
    const id = barrier.checkpointId;
    let bytes: Buffer | undefined;
    try {
      const sinks = this.parts.sinks.snapshot(id);
      const chain = this.parts.chain.snapshotState();
      bytes = encodeSnapshot({
        version: SNAPSHOT_VERSION,
        checkpointId: id,
        vertexId: this.tdd.vertexId,
        subtaskIndex: this.tdd.subtaskIndex,
        parallelism: this.tdd.parallelism,
        keyedState: chain.keyedState,
        ...(chain.sourcePositions === undefined ? {} : { sourcePositions: chain.sourcePositions }),
        ...(chain.operatorState === undefined ? {} : { operatorState: chain.operatorState }),
        sinks,
      });
    } catch (err) {
      this.decline(id, 'taking the snapshot failed', err);
    }
    // Forwarded even after a failed snapshot, so that downstream alignment does not stall.
    for (const p of this.parts.partitions) p.broadcastBarrier(barrier);
    if (bytes === undefined) return;
    if (bytes.length > SYNC_SNAPSHOT_MAX_BYTES || !this.persistNow(barrier, bytes)) void this.persist(barrier, bytes);
  }

  /** The coordinator aborted `checkpointId`: an upload of it still in flight is deleted when it ends. */
  aborted(checkpointId: number): void {
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

  /** True if the snapshot was handled here (written or declined); false if storage is not a file system. */
  private persistNow(barrier: BarrierInfo, bytes: Buffer): boolean {
    const { vertexId, subtaskIndex } = this.tdd;
    const path = snapshotPath(barrier.dir, vertexId, subtaskIndex);
    try {
      if (!writeSnapshotSync(path, bytes)) return false;
    } catch (err) {
      this.decline(barrier.checkpointId, `writing ${path} failed`, err);
      return true;
    }
    this.parts.post({ t: 'cp.ack', checkpointId: barrier.checkpointId, handle: { vertexId, subtaskIndex, path, bytes: bytes.length } });
    return true;
  }

  private async persist(barrier: BarrierInfo, bytes: Buffer): Promise<void> {
    const { vertexId, subtaskIndex } = this.tdd;
    const path = snapshotPath(barrier.dir, vertexId, subtaskIndex);
    const upload = { aborted: false };
    this.uploads.set(barrier.checkpointId, upload);
    this.writing++;
    try {
      await writeSnapshot(path, bytes);
      if (upload.aborted) await deleteObjects([path]).catch(() => undefined); // best effort: a leftover is never referenced
      else this.parts.post({ t: 'cp.ack', checkpointId: barrier.checkpointId, handle: { vertexId, subtaskIndex, path, bytes: bytes.length } });
    } catch (err) {
      if (!upload.aborted) this.decline(barrier.checkpointId, `writing ${path} failed`, err);
    } finally {
      this.uploads.delete(barrier.checkpointId);
      this.writing--;
      this.onIdle();
    }
  }
}
