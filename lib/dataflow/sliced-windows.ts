/**
 * Tumbling and sliding event-time windows with a reduce or aggregate function, computed on
 * slices (Flink's sliced window aggregation, "panes"): time is cut into slices of
 * `gcd(size, slide)`, a record updates the one slice of its timestamp, and a window's result
 * combines the size/gcd slices it spans. A sliding window of 10 s every 2 s costs a record
 * one update instead of five, and a key one slice per 2 s instead of five windows.
 *
 * The live slices are tables in memory, one per slice (key -> accumulator), as Arroyo and
 * Flink's window buffers keep them: a record is one lookup in its slice's table, a window
 * fires by merging the tables of its slices, and a slice no window needs any more (the last
 * one spanning it fired, plus the allowed lateness) is dropped whole. They are keyed state
 * all the same: when a snapshot is taken (operator state is taken before the keyed backends
 * are cut, see ChainRunner.operatorStateSnapshot), the entries changed since the last one are
 * written into the keyed map state `window-slices` (per key: slice number -> accumulator) and
 * the dropped ones removed, so slices are checkpointed, restored and rescaled by key group,
 * and an incremental checkpoint writes only what changed. A restore reads them back.
 *
 * What a restore cannot rebuild from the slices is which windows had fired; that is operator
 * state: the watermark up to which windows fired, per range of key groups, so that a rescaled
 * subtask knows it for every key group it takes.
 *
 * Semantics are WindowOperator's (windows.ts) with the default trigger: a window fires when
 * the watermark reaches its end - 1; a record late within the allowed lateness fires each
 * window it joins again; a record too late for all its windows goes to the late side output.
 * A reduce function must not mutate its arguments (a slice is read by several windows); an
 * aggregate's accumulators are merged into a fresh accumulator, never into a slice's.
 */
import { encodeKey, type Key } from './keyhash.js';
import type { HeapKeyedStateBackend, MapState } from './state.js';
import { MIN_WATERMARK } from './watermarks.js';
import type { AggregateFunction, ProcessWindowContext, ProcessWindowFunction, TimeWindow, WindowOutput, WindowSpec } from './windows.js';

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function mod(x: number, m: number): number {
  const r = x % m;
  return r < 0 ? r + m : r;
}

/** Whether `spec` runs on slices: fixed-size event-time windows, default trigger, reduce or (mergeable, if sliding) aggregate. */
export function runsOnSlices(spec: WindowSpec): boolean {
  const a = spec.assigner;
  if (!a.eventTime || a.kind === 'session' || spec.trigger !== undefined || spec.evictor !== undefined) return false;
  const { size, slide, offset } = a;
  if (size === undefined || slide === undefined || offset === undefined) return false;
  if (!Number.isInteger(size) || !Number.isInteger(slide) || !Number.isInteger(offset) || slide > size) return false;
  if (spec.fn.kind === 'process') return false;
  return spec.fn.kind === 'reduce' || size === slide || spec.fn.aggregate.merge !== undefined;
}

/** Operator state: windows up to `watermark` fired in key groups `start..end`. */
type FiredRange = readonly [start: number, end: number, watermark: number];
interface FiredState {
  readonly fired: readonly FiredRange[];
}

/** What identifies a key in a table: itself when plain, else its encoding (tuples are new arrays per record). */
type KeyId = string | number | boolean;
function keyId(key: Key): KeyId {
  return typeof key === 'object' ? encodeKey(key) : key;
}

/** One key's accumulator in one slice. */
interface SliceEntry {
  readonly key: Key;
  readonly keyGroup: number;
  acc: unknown;
  /** The snapshot generation of its last change (written into keyed state at the next snapshot if above the last one). */
  changed: number;
  /** Whether keyed state holds a copy (to remove when the slice is dropped). */
  mirrored: boolean;
}

/** Inserts `p` into the ascending `list` (slices come nearly in order: usually an append). */
function insertSorted(list: number[], p: number): void {
  let i = list.length;
  while (i > 0 && (list[i - 1] as number) > p) i--;
  list.splice(i, 0, p);
}

/**
 * One sliced window operator in one subtask. Slice `p` is `[offset + p*gcd, offset + (p+1)*gcd)`;
 * window `w` (numbered by its last slice) spans slices `w - n + 1 .. w` (n = size/gcd) and
 * exists when `w + 1 - n` is a multiple of m = slide/gcd.
 */
export class SlicedWindowOperator {
  private readonly state: MapState<number, unknown>;
  private readonly slice: number;
  private readonly n: number;
  private readonly m: number;
  private readonly offset: number;
  private readonly lateness: number;
  private watermark = MIN_WATERMARK;
  /** The live slices' tables, by slice number. */
  private readonly tables = new Map<number, Map<KeyId, SliceEntry>>();
  /** Their slice numbers, ascending. */
  private readonly order: number[] = [];
  /** The last table a record went to: in-order input hits it again. */
  private lastSlice = Number.NaN;
  private lastTable: Map<KeyId, SliceEntry> | undefined;
  /** Snapshot generation: entries changed in it go into keyed state at the next snapshot. */
  private generation = 1;
  /** Entries of dropped slices that keyed state still holds: removed from it at the next snapshot. */
  private dropped: Array<readonly [slice: number, entry: SliceEntry]> = [];
  /** After a restore: per key group, the watermark its windows had fired up to (until ours passes them all). */
  private restoredFired: Float64Array | undefined;
  private restoredFiredMax = MIN_WATERMARK;
  private stopped = false;
  private firingAt = 0;
  private readonly collector = { collect: (r: unknown) => this.out.emit(r, this.firingAt) };
  private readonly context: { window: TimeWindow; currentWatermark(): number; currentProcessingTime(): number };

  constructor(
    private readonly spec: WindowSpec,
    private readonly backend: HeapKeyedStateBackend,
    now: () => number,
    private readonly out: WindowOutput,
    /** Wraps an error of a user function so that it names the operator. */
    private readonly userError: (err: unknown) => unknown,
  ) {
    const a = spec.assigner;
    const size = a.size as number;
    const slide = a.slide as number;
    this.slice = gcd(size, slide);
    this.n = size / this.slice;
    this.m = slide / this.slice;
    this.offset = a.offset as number;
    this.lateness = spec.allowedLatenessMs;
    this.state = backend.getMapState('window-slices');
    this.context = { window: { start: 0, end: 0 }, currentWatermark: () => this.watermark, currentProcessingTime: now };
  }

  /**
   * For a snapshot, before the keyed backend is cut: writes the slices changed since the last
   * one into keyed state and removes the dropped ones; returns the operator state (how far
   * windows fired, by key group).
   */
  snapshot(): FiredState {
    const state = this.state;
    const backend = this.backend;
    const last = this.generation++;
    for (const [p, table] of this.tables) {
      for (const entry of table.values()) {
        if (entry.changed < last) continue;
        backend.setCurrentKey(entry.key);
        state.put(p, entry.acc);
        entry.mirrored = true;
      }
    }
    for (const [p, entry] of this.dropped) {
      backend.setCurrentKey(entry.key);
      state.remove(p);
    }
    this.dropped = [];
    return this.firedState();
  }

  private firedState(): FiredState {
    const range = this.backend.keyGroupRange;
    const restored = this.restoredFired;
    if (restored === undefined) return { fired: [[range.start, range.end, this.watermark]] };
    const fired: FiredRange[] = [];
    for (let kg = range.start; kg <= range.end; kg++) {
      const wm = Math.max(this.watermark, restored[kg] as number);
      const prev = fired[fired.length - 1];
      if (prev !== undefined && prev[2] === wm && prev[1] === kg - 1) fired[fired.length - 1] = [prev[0], kg, wm];
      else fired.push([kg, kg, wm]);
    }
    return { fired };
  }

  /**
   * Reads the (restored) slices of keyed state back into tables, given what every old
   * subtask's `snapshot` said (none: nothing had fired). Call once, before any record.
   */
  restore(states: readonly unknown[]): void {
    const range = this.backend.keyGroupRange;
    let fired: Float64Array | undefined;
    for (const state of states) {
      for (const [start, end, wm] of (state as FiredState | undefined)?.fired ?? []) {
        fired ??= new Float64Array(this.backend.maxParallelism).fill(MIN_WATERMARK);
        for (let kg = Math.max(start, range.start); kg <= Math.min(end, range.end); kg++) {
          fired[kg] = Math.max(fired[kg] as number, wm);
          this.restoredFiredMax = Math.max(this.restoredFiredMax, wm);
        }
      }
    }
    this.restoredFired = fired;
    for (const key of this.backend.keysOf('window-slices')) {
      this.backend.setCurrentKey(key);
      const keyGroup = this.backend.currentKeyGroup as number;
      for (const [p, acc] of this.state.entries()) this.tableOf(p).set(keyId(key), { key, keyGroup, acc, changed: 0, mirrored: true });
    }
  }

  /** No more windows fire (end of input, or the task ends). */
  stop(): void {
    this.stopped = true;
  }

  /** A record of `key` at event time `timestamp`. */
  processElement(key: Key, value: unknown, timestamp: number): void {
    const p = Math.floor((timestamp - this.offset) / this.slice);
    const table = p === this.lastSlice ? (this.lastTable as Map<KeyId, SliceEntry>) : this.tableOf(p);
    const id = typeof key === 'object' ? encodeKey(key) : key;
    let entry = table.get(id);
    let wm = this.watermark;
    const restored = this.restoredFired;
    if (restored !== undefined) {
      this.backend.setCurrentKey(key);
      wm = Math.max(wm, restored[this.backend.currentKeyGroup as number] as number);
    }
    const lateness = this.lateness;
    // In-order input (at or after the slices that may fire) skips the lateness arithmetic.
    if (this.maxTimestamp(p) > wm) {
      if (entry === undefined) table.set(id, this.newEntry(key, this.added(undefined, value)));
      else {
        entry.acc = this.added(entry.acc, value);
        entry.changed = this.generation;
      }
      return;
    }
    const first = this.firstWindowOf(p);
    const last = this.lastWindowOf(p);
    if (this.maxTimestamp(last) + lateness <= wm) {
      // Late beyond the lateness for every window it is in.
      if (table.size === 0) this.dropTable(p);
      if (this.spec.lateTag !== undefined) this.out.emitSide(this.spec.lateTag, value, timestamp);
      return;
    }
    if (entry === undefined) table.set(id, (entry = this.newEntry(key, this.added(undefined, value))));
    else {
      entry.acc = this.added(entry.acc, value);
      entry.changed = this.generation;
    }
    // Late within the lateness: every window it joined that fired already fires again (latest first, as WindowOperator does).
    for (let w = last; w >= first; w -= this.m) {
      const maxTs = this.maxTimestamp(w);
      if (maxTs <= wm && maxTs + lateness > wm) this.fireKey(w, id, entry.key);
    }
  }

  /** Fires, in time order, every window that the watermark passed; then drops the slices no window needs any more. */
  advanceWatermark(watermark: number): void {
    if (watermark <= this.watermark) return;
    const before = this.watermark;
    // What restored key groups had fired counts for the windows below even when this watermark passes it.
    const restored = this.restoredFired;
    this.watermark = watermark;
    if (restored !== undefined && watermark >= this.restoredFiredMax) this.restoredFired = undefined;
    const order = this.order;
    if (order.length === 0) return;
    const n = this.n;
    const m = this.m;
    // Windows in ascending order that end in (before, watermark] and span a live slice (gaps skipped).
    let i = 0;
    let w = this.firstWindowOf(order[0] as number);
    while (!this.stopped) {
      while (i < order.length && (order[i] as number) < w - n + 1) i++;
      if (i === order.length) break;
      if ((order[i] as number) > w) {
        w = this.firstWindowOf(order[i] as number);
        continue;
      }
      const maxTs = this.maxTimestamp(w);
      if (maxTs > watermark) break;
      if (maxTs > before) this.fireWindow(w, i, restored);
      w += m;
    }
    // Slices whose last window is cleaned up (end - 1 + lateness passed): a prefix, in slice order.
    while (order.length > 0 && this.maxTimestamp(this.lastWindowOf(order[0] as number)) + this.lateness <= watermark) {
      this.dropTable(order[0] as number);
    }
  }

  /** The live table of slice `p` (created if none). */
  private tableOf(p: number): Map<KeyId, SliceEntry> {
    let table = this.tables.get(p);
    if (table === undefined) {
      table = new Map();
      this.tables.set(p, table);
      insertSorted(this.order, p);
    }
    this.lastSlice = p;
    this.lastTable = table;
    return table;
  }

  private dropTable(p: number): void {
    const table = this.tables.get(p);
    this.tables.delete(p);
    const at = this.order.indexOf(p);
    if (at >= 0) this.order.splice(at, 1);
    if (this.lastSlice === p) {
      this.lastSlice = Number.NaN;
      this.lastTable = undefined;
    }
    if (table === undefined) return;
    for (const entry of table.values()) if (entry.mirrored) this.dropped.push([p, entry]);
  }

  private newEntry(key: Key, acc: unknown): SliceEntry {
    // The key's first record in this slice: the backend checks that this subtask owns it, and names its key group.
    this.backend.setCurrentKey(key);
    return { key, keyGroup: this.backend.currentKeyGroup as number, acc, changed: this.generation, mirrored: false };
  }

  /** The first window that slice `p` is in. */
  private firstWindowOf(p: number): number {
    const r = mod(p + 1 - this.n, this.m);
    return r === 0 ? p : p + this.m - r;
  }

  /** The last window that slice `p` is in. */
  private lastWindowOf(p: number): number {
    const first = this.firstWindowOf(p);
    return first + Math.floor((p + this.n - 1 - first) / this.m) * this.m;
  }

  /** The last timestamp of window (or slice) `w`. */
  private maxTimestamp(w: number): number {
    return this.offset + (w + 1) * this.slice - 1;
  }

  /**
   * Emits window `w` for every key with a slice in it (`order[from]` is its first live slice),
   * except keys of a restored key group that had fired it already.
   */
  private fireWindow(w: number, from: number, restored: Float64Array | undefined): void {
    const order = this.order;
    const maxTs = this.maxTimestamp(w);
    let to = from;
    while (to + 1 < order.length && (order[to + 1] as number) <= w) to++;
    if (from === to) {
      // One slice (tumbling windows, or a sparse stream): its accumulators are the results.
      for (const entry of (this.tables.get(order[from] as number) as Map<KeyId, SliceEntry>).values()) {
        if (restored !== undefined && maxTs <= (restored[entry.keyGroup] as number)) continue;
        this.emit(w, entry.key, this.result(this.merged(undefined, entry.acc, true)));
      }
      return;
    }
    // By key id; the keys themselves only where they differ from their id (tuples).
    const merged = new Map<KeyId, unknown>();
    let tuples: Map<KeyId, Key> | undefined;
    for (let i = from; i <= to; i++) {
      for (const [id, entry] of this.tables.get(order[i] as number) as Map<KeyId, SliceEntry>) {
        if (restored !== undefined && maxTs <= (restored[entry.keyGroup] as number)) continue;
        const sofar = merged.get(id);
        if (sofar === undefined && !merged.has(id)) {
          merged.set(id, this.merged(undefined, entry.acc, false));
          if (id !== entry.key) (tuples ??= new Map()).set(id, entry.key);
        } else merged.set(id, this.merged(sofar, entry.acc, false));
      }
    }
    for (const [id, acc] of merged) this.emit(w, tuples?.get(id) ?? (id as Key), this.result(acc));
  }

  /** Emits window `w` for one key (a late record's firing). */
  private fireKey(w: number, id: KeyId, key: Key): void {
    let acc: unknown;
    let any = false;
    // The live slices in the window (there may be far fewer than n): from the first at or after its first slice.
    const order = this.order;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((order[mid] as number) < w - this.n + 1) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < order.length && (order[i] as number) <= w; i++) {
      const entry = this.tables.get(order[i] as number)?.get(id);
      if (entry === undefined) continue;
      acc = this.merged(any ? acc : undefined, entry.acc, this.n === 1);
      any = true;
    }
    if (any) this.emit(w, key, this.result(acc));
  }

  /**
   * A slice's accumulator merged into what a window has so far (`sofar`, undefined at first).
   * Aggregates merge into a fresh accumulator, so that no slice's is changed; `only`: the
   * window has this one slice, no merge needed.
   */
  private merged(sofar: unknown, acc: unknown, only: boolean): unknown {
    const fn = this.spec.fn;
    try {
      if (fn.kind === 'reduce') return sofar === undefined ? acc : fn.reduce(sofar, acc);
      if (fn.kind === 'aggregate') {
        if (only) return acc;
        const aggregate = fn.aggregate as AggregateFunction<unknown, unknown, unknown>;
        return (aggregate.merge as (a: unknown, b: unknown) => unknown)(sofar === undefined ? aggregate.createAccumulator() : sofar, acc);
      }
    } catch (err) {
      throw this.userError(err);
    }
    return acc;
  }

  private result(acc: unknown): unknown {
    const fn = this.spec.fn;
    if (fn.kind !== 'aggregate') return acc;
    try {
      return fn.aggregate.getResult(acc);
    } catch (err) {
      throw this.userError(err);
    }
  }

  private emit(w: number, key: Key, result: unknown): void {
    const fn = this.spec.fn;
    const ts = this.maxTimestamp(w);
    const process = fn.kind === 'process' ? undefined : fn.process;
    if (process === undefined) return this.out.emit(result, ts);
    const end = ts + 1;
    this.context.window = { start: end - (this.spec.assigner.size as number), end };
    this.firingAt = ts;
    try {
      (process as ProcessWindowFunction<unknown, unknown, Key>)(key, this.context as ProcessWindowContext, [result], this.collector);
    } catch (err) {
      throw this.userError(err);
    }
  }

  private added(current: unknown, value: unknown): unknown {
    const fn = this.spec.fn;
    try {
      if (fn.kind === 'reduce') return current === undefined ? value : fn.reduce(current, value);
      if (fn.kind === 'aggregate') return fn.aggregate.add(value, current === undefined ? fn.aggregate.createAccumulator() : current);
    } catch (err) {
      throw this.userError(err);
    }
    return current;
  }
}
