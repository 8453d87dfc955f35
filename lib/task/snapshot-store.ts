/**
 * Snapshot objects in checkpoint storage (lib/storage: a directory or an S3 bucket): one per
 * subtask and checkpoint, `<checkpoint dir>/<vertexId>-<subtaskIndex>.state`, MessagePack of a
 * TaskSnapshot.
 *
 * The snapshot is encoded synchronously (keyed state shares live values, so it must be encoded
 * before the next record), then written asynchronously and atomically (a file renamed into
 * place, an S3 upload that completes), retried with backoff. A reader sees the whole object or
 * none. Restore downloads them on whichever TaskExecutor runs the subtask.
 *
 * On restore a subtask reads the files of EVERY old subtask of its vertex: keyed state is cut by
 * key group, and the backend keeps the groups of its own range (that is what rescaling needs);
 * source positions are per split, gathered from all old subtasks (the reader keeps its own
 * splits); sink transactions come from one old subtask each.
 */
import { Packr } from 'msgpackr';
import { fileStorageOf, joinLocation, readObject, withBackoff, writeObject } from '../storage/index.js';
import type { KeyGroupSnapshot } from '../dataflow/state.js';
import type { StateHandle, TaskDeploymentDescriptor } from './descriptor.js';
import type { SplitPositions } from '../dataflow/sources.js';
import { RestoreFailedError } from './errors.js';

/** 2: source positions per split (`sourcePositions`); a version-1 snapshot (one offset per subtask) is refused, not misread. */
export const SNAPSHOT_VERSION = 2;

/** What one subtask stores for one checkpoint. */
export interface TaskSnapshot {
  readonly version: number;
  readonly checkpointId: number;
  readonly vertexId: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  /** Key-group snapshots by keyed operator id. */
  readonly keyedState: Readonly<Record<string, KeyGroupSnapshot[]>>;
  /** Source chains only: records read per split, of the splits this subtask owned. */
  readonly sourcePositions?: SplitPositions;
  /** Operator (non-keyed) state by operator id: a timestamp assigner's watermark, a broadcast state. */
  readonly operatorState?: Readonly<Record<string, unknown>>;
  /** State of checkpointed sinks (the transactional file sink's pending files), by operator id. */
  readonly sinks: Readonly<Record<string, unknown>>;
}

/** What a redeployed subtask starts from, cut for its index and parallelism. */
export interface RestoredTaskState {
  readonly checkpointId: number;
  /** Every old subtask's key groups, by operator id (the backends skip foreign groups). */
  readonly keyedState: Record<string, KeyGroupSnapshot[]>;
  /** Every old subtask's split positions (each split was owned by one of them). */
  readonly sourcePositions?: SplitPositions;
  /** By operator id: every old subtask's operator state, in old subtask order (each operator picks what it restores). */
  readonly operatorState?: Record<string, unknown[]>;
  /** By sink operator id: the states of the old subtasks this subtask takes over (j mod parallelism = index). */
  readonly sinks: Record<string, unknown[]>;
}

const packr = new Packr({ useRecords: false, moreTypes: false });

export function snapshotPath(dir: string, vertexId: string, subtaskIndex: number): string {
  return joinLocation(dir, `${vertexId}-${subtaskIndex}.state`);
}

/** Encodes now; the bytes are a copy (msgpackr's scratch space is shared with the network serializer). */
export function encodeSnapshot(snapshot: TaskSnapshot): Buffer {
  return Buffer.from(packr.pack(snapshot));
}

export function decodeSnapshot(bytes: Buffer): TaskSnapshot {
  const s = packr.unpack(bytes) as TaskSnapshot;
  if (typeof s !== 'object' || s === null || s.version !== SNAPSHOT_VERSION) throw new Error(`not a snapshot of version ${SNAPSHOT_VERSION}`);
  return s;
}

/** Writes `bytes` to `location` atomically and durably, retried with backoff. */
export async function writeSnapshot(location: string, bytes: Buffer): Promise<void> {
  await withBackoff(() => writeObject(location, bytes));
}

/**
 * The same, synchronously, if `location` is a file (small snapshots: see TaskCheckpointer);
 * false for an object store, whose upload cannot be synchronous.
 */
export function writeSnapshotSync(location: string, bytes: Buffer): boolean {
  const file = fileStorageOf(location);
  if (file === null) return false;
  file.storage.putSync(file.key, bytes);
  return true;
}

export async function readSnapshot(location: string): Promise<TaskSnapshot> {
  return decodeSnapshot(await withBackoff(() => readObject(location), 3));
}

/**
 * Reads every handle of the subtask's vertex and cuts out what this subtask restores, at any
 * parallelism. Throws RestoreFailedError for anything unreadable or inconsistent.
 */
export async function loadRestoredState(tdd: TaskDeploymentDescriptor): Promise<RestoredTaskState | undefined> {
  const restore = tdd.restore;
  if (restore === undefined) return undefined;
  const handles = restore.handles.filter((h) => h.vertexId === tdd.vertexId);
  const fail = (problem: string, cause?: unknown) => new RestoreFailedError(tdd.executionId, restore.checkpointId, problem, cause);
  if (handles.length === 0) throw fail(`no state handle for vertex '${tdd.vertexId}'`);
  const snapshots = await Promise.all(
    handles.map(async (h: StateHandle) => {
      try {
        return await readSnapshot(h.path);
      } catch (err) {
        throw fail(`cannot read ${h.path}: ${err instanceof Error ? err.message : String(err)}`, err);
      }
    }),
  );
  const oldParallelism = snapshots[0]?.parallelism ?? handles.length;
  if (snapshots.some((s) => s.parallelism !== oldParallelism) || new Set(snapshots.map((s) => s.subtaskIndex)).size !== oldParallelism || handles.length !== oldParallelism) {
    throw fail(`expected one handle per old subtask (parallelism ${oldParallelism}), got subtasks ${snapshots.map((s) => s.subtaskIndex).join(', ')}`);
  }
  const keyedState: Record<string, KeyGroupSnapshot[]> = {};
  const sinks: Record<string, unknown[]> = {};
  let sourcePositions: Record<string, number> | undefined;
  const operatorState: Record<string, unknown[]> = {};
  const inOrder = [...snapshots].sort((a, b) => a.subtaskIndex - b.subtaskIndex);
  for (const s of inOrder) {
    for (const [op, state] of Object.entries(s.operatorState ?? {})) (operatorState[op] ??= [])[s.subtaskIndex] = state;
  }
  for (const s of snapshots) {
    for (const [op, groups] of Object.entries(s.keyedState)) {
      const into = (keyedState[op] ??= []);
      for (const g of groups) into.push(g); // no spread: a large state has more groups than call arguments may be
    }
    if (s.subtaskIndex % tdd.parallelism === tdd.subtaskIndex) {
      for (const [op, state] of Object.entries(s.sinks)) (sinks[op] ??= []).push(state);
    }
    if (s.sourcePositions !== undefined) Object.assign((sourcePositions ??= {}), s.sourcePositions);
  }
  return {
    checkpointId: restore.checkpointId,
    keyedState,
    sinks,
    ...(sourcePositions === undefined ? {} : { sourcePositions }),
    ...(Object.keys(operatorState).length === 0 ? {} : { operatorState }),
  };
}
