/**
 * Reading a copy-on-write cut of a HeapKeyedStateBackend (see state.ts): the entry shapes the
 * backend keeps, and the plain-data records a cut gives for a key group, whole or as a delta
 * since an earlier cut. The backend owns the cut's life (which maps it holds, copy on write,
 * release); this module only reads what it holds.
 */
import type { KeyGroupSnapshot, StateKind, StateSnapshot } from './state.js';
import type { Key } from './keyhash.js';

/** `gen`: the generation of the entry's last write (copy-on-write and deltas). */
export interface ValueEntry {
  readonly key: Key;
  value: unknown;
  gen: number;
}

export interface MapEntry {
  readonly key: Key;
  /** By the user key's in-memory form (state.ts `userKey`). */
  readonly map: Map<string | number, [Key, unknown]>;
  gen: number;
}

/** A removed entry: its state, key and the generation of the removal. */
export type Tombstone = readonly [name: string, key: Key, gen: number];

/** What changed in one key group since an earlier cut: keys removed, then entries set (whole, per key). */
export interface KeyGroupDelta extends KeyGroupSnapshot {
  /** By state name: keys whose entry was removed. */
  readonly removed: Readonly<Record<string, readonly Key[]>>;
}

/**
 * A copy-on-write cut of a backend's key groups: the entry maps as they were at `freeze()`.
 * Read it (`keyGroupSnapshot`) while the task goes on; `release()` it once encoded.
 */
export interface FrozenKeyedState {
  /** The generation cut: writes stamped above it came after the cut. */
  readonly generation: number;
  /** The non-empty key groups of the cut, in order. */
  readonly keyGroups: readonly number[];
  /** The plain-data snapshot of one key group of the cut (undefined if it held nothing). */
  keyGroupSnapshot(keyGroup: number): KeyGroupSnapshot | undefined;
  /** Entries (keys with state, over all states) of one key group of the cut. */
  keyGroupEntries(keyGroup: number): number;
  /** What changed in one key group of the cut since the cut of `since` (entries of later writes, removals). */
  keyGroupDelta(keyGroup: number, since: number): KeyGroupDelta;
  /** Ends the cut: its maps are dropped and writes stop copying for it. Idempotent. */
  release(): void;
}

/** The entry maps a cut holds: per state, its kind and its maps by key group. */
export type HeldTables = ReadonlyArray<readonly [name: string, kind: StateKind, groups: ReadonlyMap<number, Map<string, unknown>>]>;

/** One key group of a cut, whole. */
export function keyGroupSnapshotOf(held: HeldTables, keyGroup: number): KeyGroupSnapshot | undefined {
  let states: Record<string, StateSnapshot> | undefined;
  for (const [name, kind, groups] of held) {
    const entries = groups.get(keyGroup);
    if (entries === undefined) continue;
    (states ??= {})[name] =
      kind === 'value'
        ? { kind: 'value', entries: Array.from((entries as Map<string, ValueEntry>).values(), (e) => [e.key, e.value] as const) }
        : { kind: 'map', entries: Array.from((entries as Map<string, MapEntry>).values(), (e) => [e.key, [...e.map.values()]] as const) };
  }
  return states === undefined ? undefined : { keyGroup, states };
}

export function keyGroupEntriesOf(held: HeldTables, keyGroup: number): number {
  let n = 0;
  for (const [, , groups] of held) n += groups.get(keyGroup)?.size ?? 0;
  return n;
}

/** Entries set plus keys removed: the size of a delta, to weigh against its key group's entries. */
export function deltaEntries(delta: KeyGroupDelta): number {
  let n = 0;
  for (const state of Object.values(delta.states)) n += state.entries.length;
  for (const keys of Object.values(delta.removed)) n += keys.length;
  return n;
}

/**
 * One key group of the cut of `generation`, as a delta since the cut of `since`: entries
 * written after it, keys removed after it (up to the cut), from the key group's tombstones.
 */
export function keyGroupDeltaOf(held: HeldTables, keyGroup: number, since: number, generation: number, tombstones: Iterable<Tombstone>): KeyGroupDelta {
  const states: Record<string, StateSnapshot> = {};
  const removed: Record<string, Key[]> = {};
  for (const [name, kind, groups] of held) {
    const entries = groups.get(keyGroup);
    if (entries === undefined) continue;
    if (kind === 'value') {
      const changed: Array<readonly [Key, unknown]> = [];
      for (const e of (entries as Map<string, ValueEntry>).values()) if (e.gen > since) changed.push([e.key, e.value]);
      if (changed.length > 0) states[name] = { kind: 'value', entries: changed };
    } else {
      const changed: Array<readonly [Key, readonly (readonly [Key, unknown])[]]> = [];
      for (const e of (entries as Map<string, MapEntry>).values()) if (e.gen > since) changed.push([e.key, [...e.map.values()]]);
      if (changed.length > 0) states[name] = { kind: 'map', entries: changed };
    }
  }
  for (const [name, key, gen] of tombstones) {
    if (gen > since && gen <= generation) (removed[name] ??= []).push(key);
  }
  return { keyGroup, states, removed };
}
