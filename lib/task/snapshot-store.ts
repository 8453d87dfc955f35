/**
 * Snapshot objects in checkpoint storage (lib/storage: a directory or an S3 bucket): one per
 * subtask and checkpoint, `<checkpoint dir>/<vertexId>-<subtaskIndex>.state`: a sequence of
 * MessagePack values, a header (everything but the key groups, with `groups` = the number of
 * records that follow) then one `[operatorId, KeyGroupSnapshot]` record per key group written
 * in it. The records are encoded one by one off a copy-on-write cut while the task goes on
 * (see TaskCheckpointer), then the object is written atomically (a file renamed into place, an
 * S3 upload that completes), retried with backoff. A reader sees the whole object or none.
 *
 * Incremental checkpoints: the header's `references` name, per operator and key group, the
 * earlier object that holds that key group (unchanged since): always the object that holds its
 * record, never one that refers further, so a restore reads at most one level of references.
 * Savepoints have no references: they are self-contained.
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

/**
 * 2: source positions per split (`sourcePositions`); a version-1 snapshot (one offset per subtask) is refused, not misread.
 * 3: a header then one record per key group, and references to earlier objects (incremental checkpoints).
 */
export const SNAPSHOT_VERSION = 3;

/** Per keyed operator: `[keyGroup, location]` of key groups held by an earlier checkpoint's object. */
export type SnapshotReferences = Readonly<Record<string, readonly (readonly [number, string])[]>>;

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
  /** State of checkpointed sinks (the transactional file sink's pending files), by operator id. */
  readonly sinks: Readonly<Record<string, unknown>>;
  /** Incremental checkpoints: key groups not in `keyedState` because an earlier object holds them. */
  readonly references?: SnapshotReferences;
}

/** The first value of a snapshot object: the snapshot without its key groups, and their count. */
export type SnapshotHeader = Omit<TaskSnapshot, 'keyedState'> & { readonly groups: number };

/** What a redeployed subtask starts from, cut for its index and parallelism. */
export interface RestoredTaskState {
  readonly checkpointId: number;
  /** Every old subtask's key groups, by operator id (the backends skip foreign groups). */
  readonly keyedState: Record<string, KeyGroupSnapshot[]>;
  /** Every old subtask's split positions (each split was owned by one of them). */
  readonly sourcePositions?: SplitPositions;
  /** By sink operator id: the states of the old subtasks this subtask takes over (j mod parallelism = index). */
  readonly sinks: Record<string, unknown[]>;
  /** By operator id: where each restored key group's record lives (the base of the next incremental checkpoint). */
  readonly locations: Record<string, Map<number, string>>;
}

const packr = new Packr({ useRecords: false, moreTypes: false });

export function snapshotPath(dir: string, vertexId: string, subtaskIndex: number): string {
  return joinLocation(dir, `${vertexId}-${subtaskIndex}.state`);
}

/** The header's bytes (a copy: msgpackr's scratch space is shared with the network serializer). */
export function encodeSnapshotHeader(header: SnapshotHeader): Buffer {
  return Buffer.from(packr.pack(header));
}

/** One key group's record, a copy as above. */
export function encodeKeyGroupRecord(operatorId: string, group: KeyGroupSnapshot): Buffer {
  return Buffer.from(packr.pack([operatorId, group]));
}

/** A whole snapshot at once (savepoint copies, tests): the header, then a record per key group. */
export function encodeSnapshot(snapshot: TaskSnapshot): Buffer {
  const { keyedState, ...rest } = snapshot;
  const records: Buffer[] = [];
  for (const [op, groups] of Object.entries(keyedState)) for (const g of groups) records.push(encodeKeyGroupRecord(op, g));
  return Buffer.concat([encodeSnapshotHeader({ ...rest, groups: records.length }), ...records]);
}

export function decodeSnapshot(bytes: Buffer): TaskSnapshot {
  const values = packr.unpackMultiple(bytes) as unknown[];
  const { groups, ...header } = (values[0] ?? {}) as SnapshotHeader;
  if (typeof header !== 'object' || header === null || header.version !== SNAPSHOT_VERSION) throw new Error(`not a snapshot of version ${SNAPSHOT_VERSION}`);
  if (groups !== values.length - 1) throw new Error(`truncated snapshot: the header announces ${groups} key groups, ${values.length - 1} follow`);
  const keyedState: Record<string, KeyGroupSnapshot[]> = {};
  for (let i = 1; i < values.length; i++) {
    const [op, group] = values[i] as [string, KeyGroupSnapshot];
    (keyedState[op] ??= []).push(group);
  }
  return { ...header, keyedState };
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
  const locations: Record<string, Map<number, string>> = {};
  const sinks: Record<string, unknown[]> = {};
  let sourcePositions: Record<string, number> | undefined;
  /** Key groups held by earlier objects: by location, the `op#keyGroup` wanted from it. */
  const referenced = new Map<string, Set<string>>();
  snapshots.forEach((s, i) => {
    for (const [op, groups] of Object.entries(s.keyedState)) {
      const into = (keyedState[op] ??= []);
      const at = (locations[op] ??= new Map());
      for (const g of groups) {
        into.push(g); // no spread: a large state has more groups than call arguments may be
        at.set(g.keyGroup, handles[i]!.path);
      }
    }
    for (const [op, refs] of Object.entries(s.references ?? {})) {
      for (const [keyGroup, location] of refs) {
        const wanted = referenced.get(location) ?? new Set<string>();
        referenced.set(location, wanted.add(`${op}#${keyGroup}`));
      }
    }
    if (s.subtaskIndex % tdd.parallelism === tdd.subtaskIndex) {
      for (const [op, state] of Object.entries(s.sinks)) (sinks[op] ??= []).push(state);
    }
    if (s.sourcePositions !== undefined) Object.assign((sourcePositions ??= {}), s.sourcePositions);
  });
  await Promise.all(
    [...referenced].map(async ([location, wanted]) => {
      let earlier: TaskSnapshot;
      try {
        earlier = await readSnapshot(location);
      } catch (err) {
        throw fail(`cannot read ${location}, which holds key groups of this checkpoint: ${err instanceof Error ? err.message : String(err)}`, err);
      }
      let found = 0;
      for (const [op, groups] of Object.entries(earlier.keyedState)) {
        for (const g of groups) {
          if (!wanted.has(`${op}#${g.keyGroup}`)) continue;
          found++;
          (keyedState[op] ??= []).push(g);
          (locations[op] ??= new Map()).set(g.keyGroup, location);
        }
      }
      if (found !== wanted.size) throw fail(`${location} lacks ${wanted.size - found} of the key groups this checkpoint refers to it for`);
    }),
  );
  return { checkpointId: restore.checkpointId, keyedState, sinks, locations, ...(sourcePositions === undefined ? {} : { sourcePositions }) };
}

/**
 * The snapshot at `location` with every referenced key group read in, without references:
 * what a savepoint copies so that it depends on no checkpoint's files.
 */
export async function readSelfContained(location: string): Promise<TaskSnapshot> {
  const s = await readSnapshot(location);
  if (s.references === undefined) return s;
  const keyedState: Record<string, KeyGroupSnapshot[]> = {};
  for (const [op, groups] of Object.entries(s.keyedState)) keyedState[op] = [...groups];
  const byLocation = new Map<string, Set<string>>();
  for (const [op, refs] of Object.entries(s.references)) {
    for (const [keyGroup, at] of refs) byLocation.set(at, (byLocation.get(at) ?? new Set<string>()).add(`${op}#${keyGroup}`));
  }
  for (const [at, wanted] of byLocation) {
    const earlier = await readSnapshot(at);
    for (const [op, groups] of Object.entries(earlier.keyedState)) {
      for (const g of groups) if (wanted.has(`${op}#${g.keyGroup}`)) (keyedState[op] ??= []).push(g);
    }
  }
  const { references: _references, ...rest } = s;
  return { ...rest, keyedState };
}
