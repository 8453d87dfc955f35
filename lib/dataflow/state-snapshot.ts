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
  /** By the user key's in-memory form (state.ts `userKey`); replaced, never changed, while a cut may see it. */
  map: Map<string | number, [Key, unknown]>;
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

/**
 * What a cut holds: per state, its kind and its live entry maps by key group, as they were at
 * the cut; `saved` has, per live entry map, the entries as they were at the cut of those written
 * or removed since (copies, see HeapKeyedStateBackend). The cut's view of an entry map: its
 * saved entries, and the live entries of a generation up to the cut's (later ones came after it).
 */
export interface HeldState {
  readonly generation: number;
  readonly tables: ReadonlyArray<readonly [name: string, kind: StateKind, groups: ReadonlyMap<number, Map<string, unknown>>]>;
  readonly saved: ReadonlyMap<Map<string, unknown>, Map<string, unknown>>;
}

/**
 * The entries of one live entry map as the cut of `held` sees them, in the map's order (a
 * changed entry keeps its place; one removed since the cut comes last).
 */
function entriesAt<E extends { gen: number }>(held: HeldState, entries: Map<string, E>): E[] {
  const out: E[] = [];
  const generation = held.generation;
  const saved = held.saved.get(entries) as Map<string, E> | undefined;
  if (saved === undefined) {
    for (const e of entries.values()) if (e.gen <= generation) out.push(e);
    return out;
  }
  let used = 0;
  for (const [key, e] of entries) {
    if (e.gen <= generation) out.push(e);
    else {
      const before = saved.get(key);
      if (before !== undefined) {
        out.push(before);
        used++;
      }
    }
  }
  if (used < saved.size) for (const [key, e] of saved) if (!entries.has(key)) out.push(e);
  return out;
}

/** One key group of a cut, whole. */
export function keyGroupSnapshotOf(held: HeldState, keyGroup: number): KeyGroupSnapshot | undefined {
  let states: Record<string, StateSnapshot> | undefined;
  for (const [name, kind, groups] of held.tables) {
    const entries = groups.get(keyGroup);
    if (entries === undefined) continue;
    const at = entriesAt(held, entries as Map<string, ValueEntry | MapEntry>);
    if (at.length === 0) continue;
    (states ??= {})[name] =
      kind === 'value'
        ? { kind: 'value', entries: (at as ValueEntry[]).map((e) => [e.key, e.value] as const) }
        : { kind: 'map', entries: (at as MapEntry[]).map((e) => [e.key, [...e.map.values()]] as const) };
  }
  return states === undefined ? undefined : { keyGroup, states };
}

/**
 * One key group of the cut, as a delta since the cut of `since`: entries written after it,
 * keys removed after it (up to the cut), from the key group's tombstones.
 */
export function keyGroupDeltaOf(held: HeldState, keyGroup: number, since: number, tombstones: Iterable<Tombstone>): KeyGroupDelta {
  const states: Record<string, StateSnapshot> = {};
  const removed: Record<string, Key[]> = {};
  for (const [name, kind, groups] of held.tables) {
    const entries = groups.get(keyGroup);
    if (entries === undefined) continue;
    const changed = entriesAt(held, entries as Map<string, ValueEntry | MapEntry>).filter((e) => e.gen > since);
    if (changed.length === 0) continue;
    states[name] =
      kind === 'value'
        ? { kind: 'value', entries: (changed as ValueEntry[]).map((e) => [e.key, e.value] as const) }
        : { kind: 'map', entries: (changed as MapEntry[]).map((e) => [e.key, [...e.map.values()]] as const) };
  }
  for (const [name, key, gen] of tombstones) {
    if (gen > since && gen <= held.generation) (removed[name] ??= []).push(key);
  }
  return { keyGroup, states, removed };
}

/** Entries set plus keys removed: the size of a delta, to weigh against its key group's entries. */
export function deltaEntries(delta: KeyGroupDelta): number {
  let n = 0;
  for (const state of Object.values(delta.states)) n += state.entries.length;
  for (const keys of Object.values(delta.removed)) n += keys.length;
  return n;
}
