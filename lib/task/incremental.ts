/**
 * Incremental checkpoints on the task's side: which key groups a snapshot writes and which it
 * refers to an earlier object for.
 *
 * The JobMaster names the base of each checkpoint in its barrier: the latest completed
 * checkpoint when it was triggered, whose objects it keeps until this checkpoint ends (see
 * actors/jobmaster/shared-files.ts). The task remembers, for its last few snapshots (and the
 * checkpoint it restored), the generation of each keyed backend's cut and where each key group
 * lives. A key group without a write since the base's cut is referred to where the base had it;
 * every other one is written again. No base, or a base this task does not remember (it was
 * deployed after it, or the barrier is a savepoint's): everything is written.
 */
import type { FrozenKeyedState } from '../dataflow/state.js';

/** Where a snapshot's key groups live, per keyed operator, and each backend's cut generation. */
export interface SnapshotRecord {
  readonly generations: ReadonlyMap<string, number>;
  readonly locations: ReadonlyMap<string, ReadonlyMap<number, string>>;
}

/** The part of a keyed backend the plan needs. */
export interface ChangeTracker {
  unchangedSince(generation: number, keyGroup: number): boolean;
}

export interface OperatorPlan {
  /** Key groups to encode into this snapshot's object. */
  readonly write: number[];
  /** `[keyGroup, location]` held by earlier objects. */
  readonly references: Array<readonly [number, string]>;
  /** Where every key group of this snapshot lives (for the next one). */
  readonly locations: Map<number, string>;
}

/** Snapshots remembered; a base older than these is not found and the snapshot is full. */
const REMEMBERED = 4;

export class SnapshotHistory {
  private readonly records = new Map<number, SnapshotRecord>();

  /** What a restored subtask starts from: generation 0 (no write yet) and the restored locations. */
  restored(checkpointId: number, locations: Readonly<Record<string, ReadonlyMap<number, string>>>): void {
    const generations = new Map(Object.keys(locations).map((op) => [op, 0] as const));
    this.remember(checkpointId, { generations, locations: new Map(Object.entries(locations)) });
  }

  remember(checkpointId: number, record: SnapshotRecord): void {
    this.records.set(checkpointId, record);
    while (this.records.size > REMEMBERED) this.records.delete(this.records.keys().next().value as number);
  }

  get(checkpointId: number | undefined): SnapshotRecord | undefined {
    return checkpointId === undefined ? undefined : this.records.get(checkpointId);
  }
}

/**
 * The plan of one keyed operator's part of a snapshot: `cut` is its backend's cut, `location`
 * this snapshot's object, `base` the remembered base (undefined: write everything).
 */
export function planOperator(operatorId: string, cut: FrozenKeyedState, backend: ChangeTracker, location: string, base: SnapshotRecord | undefined): OperatorPlan {
  const write: number[] = [];
  const references: Array<readonly [number, string]> = [];
  const locations = new Map<number, string>();
  const baseGeneration = base?.generations.get(operatorId);
  const baseLocations = base?.locations.get(operatorId);
  for (const keyGroup of cut.keyGroups) {
    const earlier = baseGeneration === undefined ? undefined : baseLocations?.get(keyGroup);
    if (earlier !== undefined && backend.unchangedSince(baseGeneration as number, keyGroup)) {
      references.push([keyGroup, earlier]);
      locations.set(keyGroup, earlier);
    } else {
      write.push(keyGroup);
      locations.set(keyGroup, location);
    }
  }
  return { write, references, locations };
}
