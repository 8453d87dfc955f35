/**
 * Incremental checkpoints on the task's side: which key groups a snapshot writes and which it
 * refers to an earlier object for.
 *
 * The base of a checkpoint is the latest checkpoint this subtask heard completed (`cp.complete`)
 * among those it remembers: its last few snapshots, and the checkpoint it restored. For each it
 * remembers the generation of each keyed backend's cut and where each key group lives: a CHAIN
 * of objects, one full record then deltas (entries written and keys removed since the previous
 * link). A key group without a write since the base's cut is referred to its base chain; a
 * changed one gets a delta appended to that chain. A chain at its bound (MAX_CHAIN objects, so
 * that a restore reads a bounded number of objects) is COMPACTED: its ANCHOR (the leading
 * objects that hold the key group as it was at a known generation: the full record, or the
 * restored chain) is kept and one delta since the anchor's generation (every entry written
 * since it) replaces the deltas after it, so that a key group where little changes is not
 * written whole again and again. A delta that would hold more than half of its key group
 * (entries set plus keys removed) is written as a full record instead, which starts a new
 * chain: the encoder decides it (see TaskCheckpointer), and then the key group refers to
 * nothing. No base (the first checkpoint, or one after a savepoint restore), or a savepoint:
 * everything is full. The JobMaster stores a checkpoint only if every file it
 * refers to is still held by a retained checkpoint (see actors/jobmaster/shared-files.ts): a
 * subtask that heard late of a completion cannot refer to a file already deleted.
 */
import type { FrozenKeyedState } from '../dataflow/state.js';

/** Where a snapshot's key groups live, per keyed operator, and each backend's cut generation. */
/** Objects holding one key group, oldest first: a full record, then deltas. */
export type Chain = readonly string[];

/**
 * The first `length` objects of a key group's chain hold it as it was at the cut of
 * `generation` (0: as restored): a delta since that generation may follow them directly.
 */
export interface Anchor {
  readonly length: number;
  readonly generation: number;
}

export interface SnapshotRecord {
  readonly generations: ReadonlyMap<string, number>;
  readonly locations: ReadonlyMap<string, ReadonlyMap<number, Chain>>;
  /** Per operator and key group, the anchor of its chain (none: the next compaction writes a full record). */
  readonly anchors: ReadonlyMap<string, ReadonlyMap<number, Anchor>>;
  /** The checkpoint this snapshot referred to, if any. */
  readonly basedOn?: number;
}

/** The part of a keyed backend the plan needs. */
export interface ChangeTracker {
  unchangedSince(generation: number, keyGroup: number): boolean;
}

export interface OperatorPlan {
  /** Key groups to encode into this snapshot's object: whole, or as a delta since `since` (a cut generation). */
  readonly write: Array<{ readonly keyGroup: number; readonly since?: number }>;
  /** By key group: the earlier objects each key group needs (a delta written here goes after them). */
  readonly references: Map<number, Chain>;
  /** Where every key group of this snapshot lives (for the next one). */
  readonly locations: Map<number, Chain>;
  readonly anchors: Map<number, Anchor>;
}

/** Snapshots remembered; a base older than these is not found and the snapshot is full. */
const REMEMBERED = 4;
/** Objects in a chain at most: a restore reads no more per key group. */
export const MAX_CHAIN = 5;

export class SnapshotHistory {
  private readonly records = new Map<number, SnapshotRecord>();
  private baseId: number | undefined;

  /** What a restored subtask starts from: generation 0 (no write yet) and the restored locations. */
  restored(checkpointId: number, locations: Readonly<Record<string, ReadonlyMap<number, Chain>>>): void {
    const generations = new Map(Object.keys(locations).map((op) => [op, 0] as const));
    const anchors = new Map(Object.entries(locations).map(([op, chains]) => [op, new Map([...chains].map(([kg, chain]) => [kg, { length: chain.length, generation: 0 }]))] as const));
    this.remember(checkpointId, { generations, locations: new Map(Object.entries(locations)), anchors });
    this.baseId = checkpointId;
  }

  /** `checkpointId` completed: the next snapshot bases on it, if remembered (savepoints are not). */
  completed(checkpointId: number): void {
    if (this.records.has(checkpointId) && (this.baseId === undefined || checkpointId > this.baseId)) this.baseId = checkpointId;
  }

  /**
   * `checkpointId` was aborted: if it referred to the current base, the next snapshot is full,
   * so that a base whose files the JobMaster no longer holds (it refused the checkpoint) is not
   * referred to again and again.
   */
  aborted(checkpointId: number): void {
    const record = this.records.get(checkpointId);
    if (record?.basedOn !== undefined && record.basedOn === this.baseId) this.baseId = undefined;
  }

  /** The latest completed remembered snapshot: its id and record. */
  base(): { readonly checkpointId: number; readonly record: SnapshotRecord } | undefined {
    const record = this.baseId === undefined ? undefined : this.records.get(this.baseId);
    return record === undefined ? undefined : { checkpointId: this.baseId as number, record };
  }

  remember(checkpointId: number, record: SnapshotRecord): void {
    this.records.set(checkpointId, record);
    // The oldest go, never the base.
    for (const id of this.records.keys()) {
      if (this.records.size <= REMEMBERED) break;
      if (id !== this.baseId) this.records.delete(id);
    }
  }
}

/**
 * The plan of one keyed operator's part of a snapshot: `cut` is its backend's cut, `location`
 * this snapshot's object, `base` the remembered base (undefined: write everything).
 */
export function planOperator(operatorId: string, cut: FrozenKeyedState, backend: ChangeTracker, location: string, base: SnapshotRecord | undefined): OperatorPlan {
  const write: Array<{ keyGroup: number; since?: number }> = [];
  const references = new Map<number, Chain>();
  const locations = new Map<number, Chain>();
  const anchors = new Map<number, Anchor>();
  const since = base?.generations.get(operatorId);
  const baseLocations = base?.locations.get(operatorId);
  const baseAnchors = base?.anchors.get(operatorId);
  const full = (keyGroup: number) => {
    write.push({ keyGroup });
    locations.set(keyGroup, [location]);
    anchors.set(keyGroup, { length: 1, generation: cut.generation });
  };
  for (const keyGroup of cut.keyGroups) {
    const chain = since === undefined ? undefined : baseLocations?.get(keyGroup);
    const anchor = baseAnchors?.get(keyGroup);
    if (chain === undefined || since === undefined) {
      full(keyGroup);
    } else if (backend.unchangedSince(since, keyGroup)) {
      references.set(keyGroup, chain);
      locations.set(keyGroup, chain);
      if (anchor !== undefined) anchors.set(keyGroup, anchor);
    } else if (chain.length < MAX_CHAIN) {
      write.push({ keyGroup, since });
      references.set(keyGroup, chain);
      locations.set(keyGroup, [...chain, location]);
      if (anchor !== undefined) anchors.set(keyGroup, anchor);
    } else if (anchor !== undefined && anchor.length < MAX_CHAIN) {
      // Compaction: the anchor, then one delta of everything written since it.
      const kept = chain.slice(0, anchor.length);
      write.push({ keyGroup, since: anchor.generation });
      references.set(keyGroup, kept);
      locations.set(keyGroup, [...kept, location]);
      anchors.set(keyGroup, anchor);
    } else {
      full(keyGroup);
    }
  }
  return { write, references, locations, anchors };
}

/**
 * Per key group of `operatorId`, the generation up to which its removals may be forgotten before
 * a snapshot based on `base`: no delta of it will go further back (its anchor's, else the base's).
 * Key groups the base does not hold are written whole: all their removals may go.
 */
export function removalsNeededAfter(operatorId: string, base: SnapshotRecord): (keyGroup: number) => number {
  const since = base.generations.get(operatorId) ?? Number.POSITIVE_INFINITY;
  const locations = base.locations.get(operatorId);
  const anchors = base.anchors.get(operatorId);
  return (keyGroup) => {
    if (locations?.has(keyGroup) !== true) return Number.POSITIVE_INFINITY;
    return Math.min(since, anchors?.get(keyGroup)?.generation ?? since);
  };
}
