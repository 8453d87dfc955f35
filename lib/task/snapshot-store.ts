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
 * chain of earlier objects that hold that key group: a full record, then deltas (entries set
 * and keys removed since the previous link); a delta record in this object, if any, comes last.
 * A chain is at most MAX_CHAIN objects long (lib/task/incremental.ts) and is listed whole, so a
 * restore reads each object once and follows no further references. Savepoints have no
 * references and no deltas: they are self-contained.
 *
 * On restore a subtask reads the files of EVERY old subtask of its vertex: keyed state is cut by
 * key group, and the backend keeps the groups of its own range (that is what rescaling needs);
 * source positions are per split, gathered from all old subtasks (the reader keeps its own
 * splits); sink transactions come from one old subtask each.
 */
import { Packr } from 'msgpackr';
import { fileStorageOf, joinLocation, readObject, withBackoff, writeObject } from '../storage/index.js';
import type { KeyGroupDelta, KeyGroupSnapshot, StateSnapshot } from '../dataflow/state.js';
import { encodeKey, type Key } from '../dataflow/keyhash.js';
import type { StateHandle, TaskDeploymentDescriptor } from './descriptor.js';
import type { SplitPositions } from '../dataflow/sources.js';
import { RestoreFailedError } from './errors.js';

/**
 * 2: source positions per split (`sourcePositions`); a version-1 snapshot (one offset per subtask) is refused, not misread.
 * 3: a header then one record per key group, and references to earlier objects (incremental checkpoints).
 */
export const SNAPSHOT_VERSION = 3;

/** Per keyed operator: `[keyGroup, chain]`, the earlier objects holding a key group, oldest (the full record) first. */
export type SnapshotReferences = Readonly<Record<string, readonly (readonly [number, readonly string[]])[]>>;

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
  /** By operator id: every old subtask's operator state, in old subtask order (each operator picks what it restores). */
  readonly operatorState?: Record<string, unknown[]>;
  /** By sink operator id: the states of the old subtasks this subtask takes over (j mod parallelism = index). */
  readonly sinks: Record<string, unknown[]>;
  /** By operator id: the chain of objects of each restored key group (the base of the next incremental checkpoint). */
  readonly locations: Record<string, Map<number, readonly string[]>>;
}

const packr = new Packr({ useRecords: false, moreTypes: false });

export function snapshotPath(dir: string, vertexId: string, subtaskIndex: number): string {
  return joinLocation(dir, `${vertexId}-${subtaskIndex}.state`);
}

/** The header's bytes (a copy: msgpackr's scratch space is shared with the network serializer). */
export function encodeSnapshotHeader(header: SnapshotHeader): Buffer {
  return Buffer.from(packr.pack(header));
}

/** A header encoded by encodeSnapshotHeader, decoded. */
export function decodeSnapshotHeader(bytes: Buffer): SnapshotHeader {
  return packr.unpack(bytes) as SnapshotHeader;
}

/** One key group's record (whole, or a delta), a copy as above. */
export function encodeKeyGroupRecord(operatorId: string, group: KeyGroupSnapshot | KeyGroupDelta): Buffer {
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
  const sinks: Record<string, unknown[]> = {};
  let sourcePositions: Record<string, number> | undefined;
  const operatorState: Record<string, unknown[]> = {};
  const inOrder = [...snapshots].sort((a, b) => a.subtaskIndex - b.subtaskIndex);
  for (const s of inOrder) {
    for (const [op, state] of Object.entries(s.operatorState ?? {})) (operatorState[op] ??= [])[s.subtaskIndex] = state;
  }
  for (const s of snapshots) {
    if (s.subtaskIndex % tdd.parallelism === tdd.subtaskIndex) {
      for (const [op, state] of Object.entries(s.sinks)) (sinks[op] ??= []).push(state);
    }
    if (s.sourcePositions !== undefined) Object.assign((sourcePositions ??= {}), s.sourcePositions);
  }
  const { keyedState, locations } = await resolveChains(
    handles.map((h, i) => [h.path, snapshots[i]!] as const),
    (problem, cause) => fail(problem, cause),
  );
  return {
    checkpointId: restore.checkpointId,
    keyedState,
    sinks,
    locations,
    ...(sourcePositions === undefined ? {} : { sourcePositions }),
    ...(Object.keys(operatorState).length === 0 ? {} : { operatorState }),
  };
}

/** Whether a record is a delta (entries set and keys removed since the previous link of its chain). */
function isDelta(group: KeyGroupSnapshot): group is KeyGroupDelta {
  return (group as Partial<KeyGroupDelta>).removed !== undefined;
}

/**
 * The key groups of `primary` snapshots (`[location, snapshot]`), each read through its chain
 * (referenced objects are read once each) and merged into one whole record.
 */
async function resolveChains(
  primary: ReadonlyArray<readonly [string, TaskSnapshot]>,
  fail: (problem: string, cause?: unknown) => Error,
): Promise<{ keyedState: Record<string, KeyGroupSnapshot[]>; locations: Record<string, Map<number, readonly string[]>> }> {
  const chains = new Map<string, { op: string; keyGroup: number; chain: readonly string[] }>();
  const objects = new Map<string, Map<string, KeyGroupSnapshot>>();
  const index = (s: TaskSnapshot) => {
    const byGroup = new Map<string, KeyGroupSnapshot>();
    for (const [op, groups] of Object.entries(s.keyedState)) for (const g of groups) byGroup.set(`${op}#${g.keyGroup}`, g);
    return byGroup;
  };
  for (const [location, s] of primary) {
    const own = index(s);
    objects.set(location, own);
    const referenced = new Set<string>();
    for (const [op, refs] of Object.entries(s.references ?? {})) {
      for (const [keyGroup, chain] of refs) {
        const id = `${op}#${keyGroup}`;
        referenced.add(id);
        chains.set(id, { op, keyGroup, chain: own.has(id) ? [...chain, location] : chain });
      }
    }
    for (const [op, groups] of Object.entries(s.keyedState)) {
      for (const g of groups) if (!referenced.has(`${op}#${g.keyGroup}`)) chains.set(`${op}#${g.keyGroup}`, { op, keyGroup: g.keyGroup, chain: [location] });
    }
  }
  const missing = new Set<string>();
  for (const { chain } of chains.values()) for (const at of chain) if (!objects.has(at)) missing.add(at);
  await Promise.all(
    [...missing].map(async (at) => {
      try {
        objects.set(at, index(await readSnapshot(at)));
      } catch (err) {
        throw fail(`cannot read ${at}, which holds key groups of this checkpoint: ${err instanceof Error ? err.message : String(err)}`, err);
      }
    }),
  );
  const keyedState: Record<string, KeyGroupSnapshot[]> = {};
  const locations: Record<string, Map<number, readonly string[]>> = {};
  for (const [id, { op, keyGroup, chain }] of chains) {
    const links = chain.map((at) => {
      const g = objects.get(at)?.get(id);
      if (g === undefined) throw fail(`${at} lacks key group ${keyGroup} of '${op}', which this checkpoint refers to it for`);
      return g;
    });
    if (isDelta(links[0]!) || links.slice(1).some((g) => !isDelta(g))) throw fail(`the chain of key group ${keyGroup} of '${op}' is not one full record then deltas: ${chain.join(', ')}`);
    (keyedState[op] ??= []).push(links.length === 1 ? links[0]! : mergeChain(links));
    (locations[op] ??= new Map()).set(keyGroup, chain);
  }
  for (const groups of Object.values(keyedState)) groups.sort((a, b) => a.keyGroup - b.keyGroup);
  return { keyedState, locations };
}

/** A full record with the deltas after it applied in order: removals first, then entries set. */
function mergeChain(links: readonly KeyGroupSnapshot[]): KeyGroupSnapshot {
  const states = new Map<string, { kind: StateSnapshot['kind']; entries: Map<string, readonly [Key, unknown]> }>();
  for (const link of links) {
    if (isDelta(link)) {
      for (const [name, keys] of Object.entries(link.removed)) for (const key of keys) states.get(name)?.entries.delete(encodeKey(key));
    }
    for (const [name, state] of Object.entries(link.states)) {
      let merged = states.get(name);
      if (merged === undefined) states.set(name, (merged = { kind: state.kind, entries: new Map() }));
      for (const entry of state.entries as ReadonlyArray<readonly [Key, unknown]>) merged.entries.set(encodeKey(entry[0]), entry);
    }
  }
  const out: Record<string, StateSnapshot> = {};
  for (const [name, { kind, entries }] of states) {
    if (entries.size > 0) out[name] = { kind, entries: [...entries.values()] } as StateSnapshot;
  }
  return { keyGroup: links[0]!.keyGroup, states: out };
}

/**
 * The snapshot at `location` with every key group read through its chain, without references
 * or deltas: what a savepoint copies so that it depends on no checkpoint's files.
 */
export async function readSelfContained(location: string): Promise<TaskSnapshot> {
  const s = await readSnapshot(location);
  const { keyedState } = await resolveChains([[location, s]], (problem, cause) => new Error(problem, { cause }));
  const { references: _references, ...rest } = s;
  return { ...rest, keyedState };
}
