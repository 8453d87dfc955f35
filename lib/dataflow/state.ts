/**
 * A heap keyed state backend, organised by key group as Flink's HeapKeyedStateBackend is:
 * every state entry lives under the key group of its key, so a snapshot can be cut per key
 * group and a rescaled subtask restores exactly the key groups of its new range.
 *
 * One backend serves one keyed operator in one subtask. The operator sets the current key
 * before it calls the user function; state handles are bound to the backend, not to a key,
 * and always read and write the entry of the current key (as in Flink).
 *
 * Snapshots are copy-on-write per entry: `freeze()` cuts the generation and keeps a reference
 * to every key group's entry map, one step per key group, not per key; the task then goes on
 * processing while the cut is encoded. The first write (or removal) of an entry of a generation
 * up to a cut in flight SAVES a copy of the entry, as it was, with each cut that sees it, then
 * changes the live entry (restamped with the current generation, which hides it from those
 * cuts); a cut reads its key groups as their saved entries plus the live entries of a
 * generation up to its own. Only the entries written during a snapshot are copied, never a key
 * group's map: a map of thousands of entries copied on the first write after each cut made
 * every checkpoint promote and discard megabytes. Values are shared, not copied: a value given
 * to `update`/`put` must not be mutated in place afterwards (update with a new object instead),
 * as with Flink's heap backend without deep copies.
 *
 * Every write stamps its key group and its entry with the current generation, and a removal
 * leaves a tombstone, so an incremental checkpoint can tell which key groups changed since an
 * earlier cut (`unchangedSince`) and write only their changed entries (`keyGroupDelta`).
 */
import { NoCurrentKeyError, StateConflictError, KeyGroupOutOfRangeError } from './errors.js';
import { keyGroupOfHash, keyGroupRangeContains, type KeyGroupRange } from './keygroups.js';
import { encodeKey, murmur3, type Key } from './keyhash.js';
import { keyGroupDeltaOf, keyGroupSnapshotOf, type ChangeLog, type FrozenKeyedState, type HeldState, type MapEntry, type Tombstone, type ValueEntry } from './state-snapshot.js';

export type { FrozenKeyedState, KeyGroupDelta } from './state-snapshot.js';

/** A single value per key. */
export interface ValueState<V> {
  /** The current key's value, or undefined when none was set. */
  value(): V | undefined;
  /** Sets the current key's value; `undefined` clears it. */
  update(value: V | undefined): void;
  clear(): void;
}

/** A map per key. */
export interface MapState<K extends Key, V> {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  remove(key: K): void;
  contains(key: K): boolean;
  entries(): IterableIterator<[K, V]>;
  keys(): IterableIterator<K>;
  values(): IterableIterator<V>;
  isEmpty(): boolean;
  /** Removes the current key's whole map. */
  clear(): void;
}

export type StateKind = 'value' | 'map';

/** The entries of one state within one key group. */
export type StateSnapshot =
  | { readonly kind: 'value'; readonly entries: readonly (readonly [Key, unknown])[] }
  | { readonly kind: 'map'; readonly entries: readonly (readonly [Key, readonly (readonly [Key, unknown])[]])[] };

/** Everything a backend holds in one key group: the unit of redistribution on rescale. */
export interface KeyGroupSnapshot {
  readonly keyGroup: number;
  /** By state name. */
  readonly states: Readonly<Record<string, StateSnapshot>>;
}

/**
 * How a map state's user key is held in memory (never persisted: snapshots store the keys
 * themselves). Numbers and strings are their own Map key, which spares building and hashing an
 * encoding on every access (Map's SameValueZero equates 0 and -0 as encodeKey does); anything
 * else, and strings that start with NUL, is its canonical encoding behind a NUL, so the two
 * forms never collide.
 */
type UserKey = string | number;
function userKey(k: unknown): UserKey {
  if (typeof k === 'number') return k;
  if (typeof k === 'string' && (k.length === 0 || k.charCodeAt(0) !== 0)) return k;
  return `\u0000${encodeKey(k)}`;
}

/** One registered state: entries by key group, then by encoded key. */
interface StateTable<E> {
  readonly kind: StateKind;
  readonly groups: Map<number, Map<string, E>>;
  /** Per key group, the keys written since its log's floor (see `logChange`). */
  readonly changes: Map<number, ChangeLog>;
}

/** A key's canonical encoding and key group, as `setCurrentKey` computes them. */
interface EncodedKey {
  readonly encoded: string;
  readonly keyGroup: number;
  /**
   * The key's entry in the value table `entryTable`, found while `entriesEpoch` was the
   * backend's (no removal or restore since): the next record of this key finds it without the
   * key group's and the key's map lookups.
   */
  entryTable?: StateTable<ValueEntry> | undefined;
  entry?: ValueEntry | undefined;
  entriesEpoch?: number;
}

/** A cut in flight: the entry maps it holds, and per map the entries saved for it (see `save`). */
interface CutInFlight {
  readonly generation: number;
  readonly held: Set<Map<string, unknown>>;
  readonly saved: Map<Map<string, unknown>, Map<string, unknown>>;
}

/** A change log this long is tidied when the base moves on (see `forgetRemovals`); past half its key group's size plus this, it stops. */
const LOG_TIDY_LENGTH = 64;
const NO_KEYS: readonly string[] = [];
/** The floor of a log that stopped: no delta can use it. */
const OVERFLOWED = Number.POSITIVE_INFINITY;

/** Plain keys whose encoding a backend remembers, per type. */
const KEY_CACHE_LIMIT = 1 << 16;

export interface HeapKeyedStateBackendOptions {
  readonly maxParallelism: number;
  /** The key groups this subtask owns; records of other key groups are rejected. */
  readonly keyGroupRange: KeyGroupRange;
}

/**
 * Keyed state of one keyed operator instance, on the heap.
 *
 * @example
 * const backend = new HeapKeyedStateBackend({ maxParallelism: 128, keyGroupRange: keyGroupRangeFor(128, 2, 0) });
 * const count = backend.getValueState<number>('count');
 * backend.setCurrentKey('apple');          // throws if 'apple' is not in this subtask's key groups
 * count.update((count.value() ?? 0) + 1);
 * const snapshot = backend.snapshot();       // one entry per non-empty key group
 */
export class HeapKeyedStateBackend {
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  private readonly tables = new Map<string, StateTable<ValueEntry> | StateTable<MapEntry>>();
  private readonly handles = new Map<string, ValueState<unknown> | MapState<Key, unknown>>();
  private key: Key | undefined;
  private encodedKey = '';
  private keyGroup = -1;
  /**
   * Changes whenever the current key's entries may be other objects than before (another key,
   * an entry removed, a restore): map handles keep the current key's map until it changes, so
   * the several accesses of one record look it up once.
   */
  private keyEpoch = 0;
  /** Bumped when an entry can leave its map (a removal, a restore): entries remembered on EncodedKeys before it are stale. */
  private entriesEpoch = 0;
  /** The cached encoding of the current key (undefined for keys that are not cached). */
  private currentEncoded: EncodedKey | undefined;
  private readonly stringKeys = new Map<unknown, EncodedKey>();
  private readonly numberKeys = new Map<unknown, EncodedKey>();
  /** Writes are stamped with this; `freeze()` cuts it and moves on to the next. */
  private generation = 1;
  /** Per key group: the generation of its last write (0: none since it was restored or created). */
  private readonly changedAt: Uint32Array;
  /** The cuts in flight, oldest first; entries of a generation up to the newest are saved before a write. */
  private readonly cuts: CutInFlight[] = [];
  /** The newest cut's generation (0: none in flight): writes to entries stamped above it go in place. */
  private cowGeneration = 0;
  /** Per key group: removals, by state name and encoded key (see `forgetRemovals`). */
  private readonly tombstones = new Map<number, Map<string, Tombstone>>();
  /** Removals are remembered only once a delta may be asked for: after a cut or a restore (a job without checkpoints keeps none). */
  private tracksRemovals = false;
  /**
   * Writes are logged by key (per state and key group) from the generation after this one on:
   * from the first cut or restore (a job without checkpoints logs nothing). Undefined: not yet.
   */
  private logFloor: number | undefined;
  /** Whether anything was ever written (a restore into a fresh backend can log from generation 0). */
  private written = false;

  constructor(options: HeapKeyedStateBackendOptions) {
    this.maxParallelism = options.maxParallelism;
    this.keyGroupRange = options.keyGroupRange;
    this.changedAt = new Uint32Array(options.maxParallelism);
  }

  /**
   * Makes `key` the key that state handles read and write. Throws InvalidKeyError for keys
   * with no canonical encoding and KeyGroupOutOfRangeError for keys this subtask does not own.
   */
  setCurrentKey(key: Key): void {
    // Records of one key often come in runs (and a window operator sets it again per timer).
    if (key === this.key && (typeof key === 'string' || typeof key === 'number')) return;
    let encoded: string;
    let keyGroup: number;
    let cached: EncodedKey | undefined;
    if (typeof key === 'string' || typeof key === 'number') {
      // Plain keys repeat: their encoding and key group are remembered (a bounded cache).
      const cache = typeof key === 'string' ? this.stringKeys : this.numberKeys;
      cached = cache.get(key);
      if (cached !== undefined) {
        encoded = cached.encoded;
        keyGroup = cached.keyGroup;
      } else {
        encoded = encodeKey(key);
        keyGroup = keyGroupOfHash(murmur3(encoded), this.maxParallelism);
        if (cache.size >= KEY_CACHE_LIMIT) cache.clear();
        cached = { encoded, keyGroup };
        cache.set(key, cached);
      }
    } else {
      encoded = encodeKey(key);
      keyGroup = keyGroupOfHash(murmur3(encoded), this.maxParallelism);
    }
    if (!keyGroupRangeContains(this.keyGroupRange, keyGroup)) {
      throw new KeyGroupOutOfRangeError(keyGroup, this.keyGroupRange.start, this.keyGroupRange.end);
    }
    this.key = key;
    this.encodedKey = encoded;
    this.keyGroup = keyGroup;
    this.currentEncoded = cached;
    this.keyEpoch++;
  }

  get currentKey(): Key | undefined {
    return this.key;
  }

  get currentKeyGroup(): number | undefined {
    return this.key === undefined ? undefined : this.keyGroup;
  }

  /** The value state `name` (created on first use; the same handle on later calls). */
  getValueState<V>(name: string): ValueState<V> {
    const existing = this.handles.get(name);
    const table = this.table<ValueEntry>(name, 'value');
    if (existing !== undefined) return existing as ValueState<V>;
    // The current key's entry, looked up once per key (keyEpoch: a key change, a removal, a
    // restore): a read then write of one record (a sum, a reduce) finds it once. Entries are
    // changed in place (a cut in flight gets a saved copy), so the object stays the key's.
    let cachedAt = -1;
    let cached: ValueEntry | undefined;
    const current = (): ValueEntry | undefined => {
      if (cachedAt === this.keyEpoch) return cached;
      const known = this.currentEncoded;
      if (known !== undefined && known.entryTable === table && known.entriesEpoch === this.entriesEpoch) {
        cached = known.entry;
      } else {
        cached = this.currentEntries(table, name)?.get(this.encodedKey);
        if (known !== undefined) remember(known, cached);
      }
      cachedAt = this.keyEpoch;
      return cached;
    };
    const remember = (known: EncodedKey, entry: ValueEntry | undefined): void => {
      known.entryTable = table;
      known.entry = entry;
      known.entriesEpoch = this.entriesEpoch;
    };
    const handle: ValueState<V> = {
      value: () => current()?.value as V | undefined,
      update: (value) => {
        if (value === undefined) return handle.clear();
        const known = current();
        if (known !== undefined && known.gen === this.generation) {
          // Written already in this generation: saved for any cut and logged, so only the value changes.
          this.changedAt[this.keyGroup] = this.generation;
          known.value = value;
          return;
        }
        const entries = this.writableEntries(table, name);
        const entry = entries.get(this.encodedKey);
        if (entry === undefined) {
          cached = { key: this.key as Key, value, gen: this.generation };
          cachedAt = this.keyEpoch;
          if (this.currentEncoded !== undefined) remember(this.currentEncoded, cached);
          entries.set(this.encodedKey, cached);
          this.logChange(table, entries);
        } else {
          if (entry.gen !== this.generation) {
            if (entry.gen <= this.cowGeneration) this.save(entries, entry, { key: entry.key, value: entry.value, gen: entry.gen });
            this.logChange(table, entries);
          }
          entry.value = value;
          entry.gen = this.generation;
        }
      },
      clear: () => {
        this.removeCurrent(table, name);
      },
    };
    this.handles.set(name, handle as ValueState<unknown>);
    return handle;
  }

  /** The map state `name` (created on first use; the same handle on later calls). */
  getMapState<K extends Key, V>(name: string): MapState<K, V> {
    const existing = this.handles.get(name);
    const table = this.table<MapEntry>(name, 'map');
    if (existing !== undefined) return existing as unknown as MapState<K, V>;
    // The current key's map, looked up once per key (keyEpoch); a write that copies it moves the cache along.
    let cachedAt = -1;
    let cached: Map<UserKey, [Key, unknown]> | undefined;
    const current = (): Map<UserKey, [Key, unknown]> | undefined => {
      if (cachedAt === this.keyEpoch) return cached;
      cached = this.currentEntries(table, name)?.get(this.encodedKey)?.map;
      cachedAt = this.keyEpoch;
      return cached;
    };
    /** The current key's map, to be changed: created, or copied if a cut in flight holds it. */
    const writable = (): Map<UserKey, [Key, unknown]> => {
      const entries = this.writableEntries(table, name);
      let entry = entries.get(this.encodedKey);
      if (entry === undefined) {
        entry = { key: this.key as Key, map: new Map(), gen: this.generation };
        entries.set(this.encodedKey, entry);
        this.logChange(table, entries);
      } else if (entry.gen !== this.generation) {
        if (entry.gen <= this.cowGeneration) {
          // The saved copy keeps the map a cut sees; the live entry goes on with a copy of it.
          this.save(entries, entry, { key: entry.key, map: entry.map, gen: entry.gen });
          entry.map = new Map(entry.map);
        }
        this.logChange(table, entries);
      }
      entry.gen = this.generation;
      cached = entry.map;
      cachedAt = this.keyEpoch;
      return entry.map;
    };
    const handle: MapState<K, V> = {
      get: (k) => current()?.get(userKey(k))?.[1] as V | undefined,
      put: (k, v) => {
        writable().set(userKey(k), [k, v]);
      },
      remove: (k) => {
        const encoded = userKey(k);
        if (current()?.has(encoded) !== true) return;
        const map = writable();
        map.delete(encoded);
        if (map.size === 0) this.removeCurrent(table, name);
      },
      contains: (k) => current()?.has(userKey(k)) ?? false,
      entries: () => mapIterator(current(), ([k, v]) => [k as K, v as V]),
      keys: () => mapIterator(current(), ([k]) => k as K),
      values: () => mapIterator(current(), ([, v]) => v as V),
      isEmpty: () => (current()?.size ?? 0) === 0,
      clear: () => {
        this.removeCurrent(table, name);
      },
    };
    this.handles.set(name, handle as unknown as MapState<Key, unknown>);
    return handle;
  }

  /** Names of the registered states. */
  stateNames(): string[] {
    return [...this.tables.keys()];
  }

  /** The keys with an entry in state `name`, over all key groups (e.g. to rebuild a timer queue after a restore). */
  keysOf(name: string): Key[] {
    const out: Key[] = [];
    for (const entries of this.tables.get(name)?.groups.values() ?? []) for (const e of entries.values()) out.push(e.key);
    return out;
  }

  /** Number of keys with an entry in state `name` (all key groups). */
  numKeys(name: string): number {
    let n = 0;
    for (const entries of this.tables.get(name)?.groups.values() ?? []) n += entries.size;
    return n;
  }

  /**
   * The state of every non-empty key group in `range` (default: the backend's own range),
   * in key group order. Plain data; values are shared with the live state.
   */
  snapshot(range: KeyGroupRange = this.keyGroupRange): KeyGroupSnapshot[] {
    const cut = this.freeze(range);
    try {
      return cut.keyGroups.map((keyGroup) => cut.keyGroupSnapshot(keyGroup) as KeyGroupSnapshot);
    } finally {
      cut.release();
    }
  }

  /**
   * A copy-on-write cut of the non-empty key groups in `range` (default: the backend's own):
   * one step per key group and state, whatever the number of keys. Writes after it go to
   * copies; release the cut once it has been read.
   */
  freeze(range: KeyGroupRange = this.keyGroupRange): FrozenKeyedState {
    this.tracksRemovals = true;
    const generation = this.generation++;
    this.logFloor ??= generation;
    const tables: Array<[string, StateKind, Map<number, Map<string, unknown>>]> = [];
    const keyGroups = new Set<number>();
    const sizes = new Map<number, number>();
    const held = new Set<Map<string, unknown>>();
    const logs = new Map<Map<string, unknown>, readonly [readonly string[], number, number]>();
    for (const [name, table] of this.tables) {
      const groups = new Map<number, Map<string, unknown>>();
      for (const [keyGroup, entries] of table.groups as Map<number, Map<string, unknown>>) {
        if (entries.size === 0 || !keyGroupRangeContains(range, keyGroup)) continue;
        groups.set(keyGroup, entries);
        keyGroups.add(keyGroup);
        sizes.set(keyGroup, (sizes.get(keyGroup) ?? 0) + entries.size);
        held.add(entries);
        // Logs only grow while a cut is in flight (a reset replaces the array): the length is the log at the cut.
        const log = table.changes.get(keyGroup);
        logs.set(entries, log === undefined ? [NO_KEYS, 0, this.logFloor] : [log.keys, log.keys.length, log.floor]);
      }
      tables.push([name, table.kind, groups]);
    }
    const cut: CutInFlight = { generation, held, saved: new Map() };
    this.cuts.push(cut);
    this.cowGeneration = generation;
    const state: HeldState = { generation, tables, saved: cut.saved, logs };
    let released = false;
    return {
      generation,
      keyGroups: [...keyGroups].sort((a, b) => a - b),
      keyGroupDelta: (keyGroup, since, limit) => keyGroupDeltaOf(state, keyGroup, since, this.tombstones.get(keyGroup)?.values() ?? [], limit),
      keyGroupSnapshot: (keyGroup) => keyGroupSnapshotOf(state, keyGroup),
      keyGroupEntries: (keyGroup) => sizes.get(keyGroup) ?? 0,
      release: () => {
        if (released) return;
        released = true;
        tables.length = 0;
        held.clear();
        cut.saved.clear();
        logs.clear();
        this.cuts.splice(this.cuts.indexOf(cut), 1);
        this.cowGeneration = this.cuts.length === 0 ? 0 : this.cuts[this.cuts.length - 1]!.generation;
      },
    };
  }

  /** Entry maps held by cuts in flight: 0 once every cut is released (their memory can go). */
  get heldByCuts(): number {
    let n = 0;
    for (const cut of this.cuts) n += cut.held.size;
    return n;
  }

  /**
   * Before the first write or removal of `entry` (of `entries`) since a cut that sees it: `copy`,
   * the entry as it is, is saved with every cut in flight that holds `entries` and sees this
   * generation of the entry. The caller then changes the entry and restamps it, which hides it from them.
   */
  private save<E extends { gen: number }>(entries: Map<string, E>, entry: E, copy: E): void {
    for (const cut of this.cuts) {
      if (entry.gen > cut.generation || !cut.held.has(entries)) continue;
      let saved = cut.saved.get(entries);
      if (saved === undefined) cut.saved.set(entries, (saved = new Map()));
      saved.set(this.encodedKey, copy);
    }
  }

  /**
   * Removals and logged writes up to `upTo(keyGroup)` are forgotten, per key group: no delta of
   * it will be taken against a cut older than that (the checkpointer calls this when its base
   * moves on; nothing goes while a cut is in flight). A change log is rewritten, without repeats
   * and keys of older writes, once it is longer than a few dozen keys.
   */
  forgetRemovals(upTo: (keyGroup: number) => number): void {
    if (this.cuts.length > 0) return;
    for (const [keyGroup, stones] of this.tombstones) {
      const generation = upTo(keyGroup);
      for (const [id, stone] of stones) if (stone[2] <= generation) stones.delete(id);
      if (stones.size === 0) this.tombstones.delete(keyGroup);
    }
    for (const table of this.tables.values()) {
      for (const [keyGroup, log] of table.changes) {
        if (log.keys.length <= LOG_TIDY_LENGTH && log.floor !== OVERFLOWED) continue;
        const generation = upTo(keyGroup);
        if (generation === Number.POSITIVE_INFINITY || log.floor === OVERFLOWED) {
          table.changes.set(keyGroup, { keys: [], floor: this.generation });
          continue;
        }
        const entries = table.groups.get(keyGroup) as Map<string, { gen: number }> | undefined;
        const keys = [...new Set(log.keys)].filter((k) => (entries?.get(k)?.gen ?? 0) > generation);
        table.changes.set(keyGroup, { keys, floor: Math.max(log.floor, generation) });
      }
    }
  }

  /**
   * The first write of the current key's entry in this generation (or its creation): its key is
   * logged for deltas. A log grown past half its key group's size stops (no delta can use it)
   * until the base moves on, and then starts again empty from the current generation: a delta
   * from further back reads every entry instead.
   */
  private logChange<E>(table: StateTable<E>, entries: Map<string, E>): void {
    if (this.logFloor === undefined) return;
    let log = table.changes.get(this.keyGroup);
    if (log === undefined) table.changes.set(this.keyGroup, (log = { keys: [], floor: this.logFloor }));
    else if (log.floor === OVERFLOWED) return;
    else if (log.keys.length > entries.size / 2 + LOG_TIDY_LENGTH) {
      // Most of the key group is being written: its delta would be a full record anyway.
      table.changes.set(this.keyGroup, { keys: [], floor: OVERFLOWED });
      return;
    }
    log.keys.push(this.encodedKey);
  }

  /** Whether key group `keyGroup` has had no write since the cut of `generation` (0: since restore). */
  unchangedSince(generation: number, keyGroup: number): boolean {
    return (this.changedAt[keyGroup] ?? 0) <= generation;
  }

  /**
   * Adds the entries of the snapshots' key groups that this backend owns and skips the rest,
   * so a rescaled subtask can be handed the snapshots of all old subtasks whose ranges overlap
   * its own. Restoring a key group replaces what the backend held in it.
   */
  restore(snapshots: Iterable<KeyGroupSnapshot>): void {
    this.tracksRemovals = true;
    if (this.logFloor === undefined) {
      // Restored entries are of generation 0; later writes are logged (after any earlier ones' generation).
      this.logFloor = this.written ? this.generation++ : 0;
    }
    this.keyEpoch++;
    this.entriesEpoch++;
    for (const { keyGroup, states } of snapshots) {
      if (!keyGroupRangeContains(this.keyGroupRange, keyGroup)) continue;
      for (const [name, state] of Object.entries(states)) {
        if (state.kind === 'value') {
          const entries = new Map<string, ValueEntry>();
          for (const [key, value] of state.entries) entries.set(encodeKey(key), { key, value, gen: 0 });
          this.table<ValueEntry>(name, 'value').groups.set(keyGroup, entries);
        } else {
          const entries = new Map<string, MapEntry>();
          for (const [key, pairs] of state.entries) {
            entries.set(encodeKey(key), { key, map: new Map(pairs.map(([k, v]) => [userKey(k), [k, v] as [Key, unknown]])), gen: 0 });
          }
          this.table<MapEntry>(name, 'map').groups.set(keyGroup, entries);
        }
      }
    }
  }

  private table<E>(name: string, kind: StateKind): StateTable<E> {
    let table = this.tables.get(name);
    if (table === undefined) {
      table = { kind, groups: new Map(), changes: new Map() };
      this.tables.set(name, table);
    } else if (table.kind !== kind) {
      throw new StateConflictError(name, table.kind, kind);
    }
    return table as unknown as StateTable<E>;
  }

  /** The entries of the current key's key group in a table, to read. */
  private currentEntries<E>(table: StateTable<E>, name: string): Map<string, E> | undefined {
    if (this.key === undefined) throw new NoCurrentKeyError(name);
    return table.groups.get(this.keyGroup);
  }

  /**
   * The entries of the current key's key group, to change: created if absent; the key group is
   * stamped as changed in this generation.
   */
  private writableEntries<E>(table: StateTable<E>, name: string): Map<string, E> {
    if (this.key === undefined) throw new NoCurrentKeyError(name);
    this.changedAt[this.keyGroup] = this.generation;
    this.written = true;
    let entries = table.groups.get(this.keyGroup);
    if (entries === undefined) {
      entries = new Map();
      table.groups.set(this.keyGroup, entries);
    }
    return entries;
  }

  private removeCurrent<E extends { gen: number }>(table: StateTable<E>, name: string): void {
    this.keyEpoch++;
    this.entriesEpoch++;
    const entry = this.currentEntries(table, name)?.get(this.encodedKey);
    if (entry === undefined) return;
    const entries = this.writableEntries(table, name);
    if (entry.gen <= this.cowGeneration) this.save(entries, entry, { ...entry });
    entries.delete(this.encodedKey);
    if (!this.tracksRemovals) return;
    let stones = this.tombstones.get(this.keyGroup);
    if (stones === undefined) this.tombstones.set(this.keyGroup, (stones = new Map()));
    stones.set(`${name}\0${this.encodedKey}`, [name, this.key as Key, this.generation]);
  }
}

function* mapIterator<T>(map: Map<UserKey, [Key, unknown]> | undefined, pick: (pair: [Key, unknown]) => T): IterableIterator<T> {
  if (map === undefined) return;
  for (const pair of map.values()) yield pick(pair);
}
