/**
 * A heap keyed state backend, organised by key group as Flink's HeapKeyedStateBackend is:
 * every state entry lives under the key group of its key, so a snapshot can be cut per key
 * group and a rescaled subtask restores exactly the key groups of its new range.
 *
 * One backend serves one keyed operator in one subtask. The operator sets the current key
 * before it calls the user function; state handles are bound to the backend, not to a key,
 * and always read and write the entry of the current key (as in Flink).
 *
 * Snapshots are plain arrays and objects (MessagePack-ready). They share the user's values
 * with the live state rather than deep-copying them: encode a snapshot before the next record
 * is processed, which is what the task's synchronous snapshot phase does.
 */
import { NoCurrentKeyError, StateConflictError, KeyGroupOutOfRangeError } from './errors.js';
import { keyGroupRangeContains, type KeyGroupRange } from './keygroups.js';
import { encodeKey, murmur3, type Key } from './keyhash.js';

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

interface ValueEntry {
  readonly key: Key;
  value: unknown;
}

interface MapEntry {
  readonly key: Key;
  readonly map: Map<UserKey, [Key, unknown]>;
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
}

/** A key's canonical encoding and key group, as `setCurrentKey` computes them. */
interface EncodedKey {
  readonly encoded: string;
  readonly keyGroup: number;
}

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
  private generation = 0;
  private readonly stringKeys = new Map<unknown, EncodedKey>();
  private readonly numberKeys = new Map<unknown, EncodedKey>();

  constructor(options: HeapKeyedStateBackendOptions) {
    this.maxParallelism = options.maxParallelism;
    this.keyGroupRange = options.keyGroupRange;
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
    if (typeof key === 'string' || typeof key === 'number') {
      // Plain keys repeat: their encoding and key group are remembered (a bounded cache).
      const cache = typeof key === 'string' ? this.stringKeys : this.numberKeys;
      const cached = cache.get(key);
      if (cached !== undefined) {
        encoded = cached.encoded;
        keyGroup = cached.keyGroup;
      } else {
        encoded = encodeKey(key);
        keyGroup = murmur3(encoded) % this.maxParallelism;
        if (cache.size >= KEY_CACHE_LIMIT) cache.clear();
        cache.set(key, { encoded, keyGroup });
      }
    } else {
      encoded = encodeKey(key);
      keyGroup = murmur3(encoded) % this.maxParallelism;
    }
    if (!keyGroupRangeContains(this.keyGroupRange, keyGroup)) {
      throw new KeyGroupOutOfRangeError(keyGroup, this.keyGroupRange.start, this.keyGroupRange.end);
    }
    this.key = key;
    this.encodedKey = encoded;
    this.keyGroup = keyGroup;
    this.generation++;
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
    const handle: ValueState<V> = {
      value: () => this.currentEntries(table, name, false)?.get(this.encodedKey)?.value as V | undefined,
      update: (value) => {
        if (value === undefined) return handle.clear();
        const entries = this.currentEntries(table, name, true) as Map<string, ValueEntry>;
        const entry = entries.get(this.encodedKey);
        if (entry === undefined) entries.set(this.encodedKey, { key: this.key as Key, value });
        else entry.value = value;
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
    let cachedAt = -1;
    let cached: Map<UserKey, [Key, unknown]> | undefined;
    const current = (create: boolean): Map<UserKey, [Key, unknown]> | undefined => {
      if (cachedAt === this.generation && (cached !== undefined || !create)) return cached;
      const entries = this.currentEntries(table, name, create);
      let entry = entries?.get(this.encodedKey);
      if (entry === undefined && create && entries !== undefined) {
        entry = { key: this.key as Key, map: new Map() };
        entries.set(this.encodedKey, entry);
      }
      cached = entry?.map;
      cachedAt = this.generation;
      return cached;
    };
    const handle: MapState<K, V> = {
      get: (k) => current(false)?.get(userKey(k))?.[1] as V | undefined,
      put: (k, v) => {
        const map = current(true) as Map<UserKey, [Key, unknown]>;
        const uk = userKey(k);
        const pair = map.get(uk);
        // In place: a snapshot shares these pairs, but it is encoded before the next record changes them.
        if (pair === undefined) map.set(uk, [k, v]);
        else pair[1] = v;
      },
      remove: (k) => {
        const map = current(false);
        if (map === undefined) return;
        map.delete(userKey(k));
        if (map.size === 0) this.removeCurrent(table, name);
      },
      contains: (k) => current(false)?.has(userKey(k)) ?? false,
      entries: () => mapIterator(current(false), ([k, v]) => [k as K, v as V]),
      keys: () => mapIterator(current(false), ([k]) => k as K),
      values: () => mapIterator(current(false), ([, v]) => v as V),
      isEmpty: () => (current(false)?.size ?? 0) === 0,
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
    const byGroup = new Map<number, Record<string, StateSnapshot>>();
    for (const [name, table] of this.tables) {
      for (const [keyGroup, entries] of table.groups) {
        if (entries.size === 0 || !keyGroupRangeContains(range, keyGroup)) continue;
        const states = byGroup.get(keyGroup) ?? {};
        byGroup.set(keyGroup, states);
        states[name] =
          table.kind === 'value'
            ? { kind: 'value', entries: [...(entries as Map<string, ValueEntry>).values()].map((e) => [e.key, e.value] as const) }
            : { kind: 'map', entries: [...(entries as Map<string, MapEntry>).values()].map((e) => [e.key, [...e.map.values()]] as const) };
      }
    }
    return [...byGroup.keys()].sort((a, b) => a - b).map((keyGroup) => ({ keyGroup, states: byGroup.get(keyGroup) as Record<string, StateSnapshot> }));
  }

  /**
   * Adds the entries of the snapshots' key groups that this backend owns and skips the rest,
   * so a rescaled subtask can be handed the snapshots of all old subtasks whose ranges overlap
   * its own. Restoring a key group replaces what the backend held in it.
   */
  restore(snapshots: Iterable<KeyGroupSnapshot>): void {
    this.generation++;
    for (const { keyGroup, states } of snapshots) {
      if (!keyGroupRangeContains(this.keyGroupRange, keyGroup)) continue;
      for (const [name, state] of Object.entries(states)) {
        if (state.kind === 'value') {
          const entries = new Map<string, ValueEntry>();
          for (const [key, value] of state.entries) entries.set(encodeKey(key), { key, value });
          this.table<ValueEntry>(name, 'value').groups.set(keyGroup, entries);
        } else {
          const entries = new Map<string, MapEntry>();
          for (const [key, pairs] of state.entries) {
            entries.set(encodeKey(key), { key, map: new Map(pairs.map(([k, v]) => [userKey(k), [k, v] as [Key, unknown]])) });
          }
          this.table<MapEntry>(name, 'map').groups.set(keyGroup, entries);
        }
      }
    }
  }

  private table<E>(name: string, kind: StateKind): StateTable<E> {
    let table = this.tables.get(name);
    if (table === undefined) {
      table = { kind, groups: new Map() };
      this.tables.set(name, table);
    } else if (table.kind !== kind) {
      throw new StateConflictError(name, table.kind, kind);
    }
    return table as unknown as StateTable<E>;
  }

  /** The entries of the current key's key group in a table. */
  private currentEntries<E>(table: StateTable<E>, name: string, create: boolean): Map<string, E> | undefined {
    if (this.key === undefined) throw new NoCurrentKeyError(name);
    let entries = table.groups.get(this.keyGroup);
    if (entries === undefined && create) {
      entries = new Map();
      table.groups.set(this.keyGroup, entries);
    }
    return entries;
  }

  private removeCurrent<E>(table: StateTable<E>, name: string): void {
    this.generation++;
    this.currentEntries(table, name, false)?.delete(this.encodedKey);
  }
}

function* mapIterator<T>(map: Map<UserKey, [Key, unknown]> | undefined, pick: (pair: [Key, unknown]) => T): IterableIterator<T> {
  if (map === undefined) return;
  for (const pair of map.values()) yield pick(pair);
}
