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
  /**
   * What changed in one key group of the cut since the cut of `since` (entries of later writes,
   * removals); undefined if that is more than `limit` entries set plus keys removed.
   */
  keyGroupDelta(keyGroup: number, since: number, limit?: number): KeyGroupDelta | undefined;
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
  /** Per live entry map, its change log as it was at the cut: the keys, how many, the floor. */
  readonly logs: ReadonlyMap<Map<string, unknown>, readonly [keys: readonly string[], length: number, floor: number]>;
}

/**
 * The keys written in one key group of one state (see HeapKeyedStateBackend): every entry of a
 * generation above `floor` has its key among `keys`, which may repeat keys and hold removed ones.
 * A delta since a generation at or above the floor visits these keys instead of every entry.
 */
export interface ChangeLog {
  readonly keys: string[];
  readonly floor: number;
}

/**
 * Calls `visit` with each entry of one live entry map as the cut of `held` sees it, in the
 * map's order (a changed entry keeps its place; one removed since the cut comes last), until
 * `visit` returns true; true if it did.
 */
function forEachAt<E extends { gen: number }>(held: HeldState, entries: Map<string, E>, visit: (e: E) => boolean): boolean {
  const generation = held.generation;
  const saved = held.saved.get(entries) as Map<string, E> | undefined;
  if (saved === undefined) {
    for (const e of entries.values()) if (e.gen <= generation && visit(e)) return true;
    return false;
  }
  let used = 0;
  for (const [key, e] of entries) {
    if (e.gen <= generation) {
      if (visit(e)) return true;
    } else {
      const before = saved.get(key);
      if (before !== undefined) {
        used++;
        if (visit(before)) return true;
      }
    }
  }
  if (used < saved.size) for (const [key, e] of saved) if (!entries.has(key) && visit(e)) return true;
  return false;
}

/**
 * The entries of `entries` the cut sees with a generation above `since`, as plain data; undefined
 * once there would be more than `limit`.
 */
function entriesAfter(held: HeldState, kind: StateKind, entries: Map<string, unknown>, since: number, limit = Number.POSITIVE_INFINITY): StateSnapshot['entries'] | undefined {
  const log = since < 0 ? undefined : held.logs.get(entries);
  if (log !== undefined && since >= log[2]) return loggedAfter(held, kind, entries, log, since, limit);
  if (kind === 'value') {
    const out: Array<readonly [Key, unknown]> = [];
    const over = forEachAt(held, entries as Map<string, ValueEntry>, (e) => e.gen > since && out.push([e.key, e.value]) > limit);
    return over ? undefined : out;
  }
  const out: Array<readonly [Key, readonly (readonly [Key, unknown])[]]> = [];
  const over = forEachAt(held, entries as Map<string, MapEntry>, (e) => e.gen > since && out.push([e.key, [...e.map.values()]]) > limit);
  return over ? undefined : out;
}

/** As entriesAfter, visiting only the keys of the change log (`since` at or above its floor). */
function loggedAfter(held: HeldState, kind: StateKind, entries: Map<string, unknown>, [keys, length]: readonly [readonly string[], number, number], since: number, limit: number): StateSnapshot['entries'] | undefined {
  const generation = held.generation;
  const saved = held.saved.get(entries);
  const seen = new Set<string>();
  const out: Array<readonly [Key, unknown]> = [];
  for (let i = 0; i < length; i++) {
    const key = keys[i]!;
    if (seen.has(key)) continue;
    seen.add(key);
    const live = entries.get(key) as ValueEntry | MapEntry | undefined;
    const e = live !== undefined && live.gen <= generation ? live : (saved?.get(key) as ValueEntry | MapEntry | undefined);
    if (e === undefined || e.gen <= since) continue;
    out.push(kind === 'value' ? [e.key, (e as ValueEntry).value] : [e.key, [...(e as MapEntry).map.values()]]);
    if (out.length > limit) return undefined;
  }
  return out as StateSnapshot['entries'];
}

/** One key group of a cut, whole. */
export function keyGroupSnapshotOf(held: HeldState, keyGroup: number): KeyGroupSnapshot | undefined {
  let states: Record<string, StateSnapshot> | undefined;
  for (const [name, kind, groups] of held.tables) {
    const entries = groups.get(keyGroup);
    if (entries === undefined) continue;
    const at = entriesAfter(held, kind, entries, -1)!;
    if (at.length > 0) (states ??= {})[name] = { kind, entries: at } as StateSnapshot;
  }
  return states === undefined ? undefined : { keyGroup, states };
}

/**
 * One key group of the cut, as a delta since the cut of `since`: entries written after it,
 * keys removed after it (up to the cut), from the key group's tombstones; undefined if it would
 * hold more than `limit` (entries set plus keys removed), found out without building all of it.
 */
export function keyGroupDeltaOf(held: HeldState, keyGroup: number, since: number, tombstones: Iterable<Tombstone>, limit = Number.POSITIVE_INFINITY): KeyGroupDelta | undefined {
  const states: Record<string, StateSnapshot> = {};
  const removed: Record<string, Key[]> = {};
  let n = 0;
  for (const [name, key, gen] of tombstones) {
    if (gen > since && gen <= held.generation) {
      (removed[name] ??= []).push(key);
      if (++n > limit) return undefined;
    }
  }
  for (const [name, kind, groups] of held.tables) {
    const entries = groups.get(keyGroup);
    if (entries === undefined) continue;
    const changed = entriesAfter(held, kind, entries, since, limit - n);
    if (changed === undefined) return undefined;
    n += changed.length;
    if (changed.length > 0) states[name] = { kind, entries: changed } as StateSnapshot;
  }
  return { keyGroup, states, removed };
}
