/**
 * Tumbling and sliding event-time windows with a reduce or aggregate function, computed on
 * slices (Flink's sliced window aggregation, "panes"): time is cut into slices of
 * `gcd(size, slide)`, a record updates the one slice of its timestamp, and a window's result
 * combines the size/gcd slices it spans. A sliding window of 10 s every 2 s costs a record
 * one state update instead of five, and a key one slice per 2 s instead of five windows.
 *
 * Slices are keyed state (`window-slices`: map slice number -> accumulator), so they are
 * checkpointed, restored and rescaled by key group. A slice is dropped when the last window
 * that spans it is cleaned up (its end plus the allowed lateness).
 *
 * Which keys a window fires for is an index in memory, rebuilt from the slices on restore:
 * per window, the keys with a slice in it (each once, in the order of their first slice, as
 * the timers of the window-per-record path would fire them). No timer per (key, window).
 * What a restore cannot rebuild is which windows had fired; that is operator state: the
 * watermark up to which windows fired, per range of key groups, so that a rescaled subtask
 * knows it for every key group it takes.
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
  if (!a.eventTime || a.kind === 'session' || spec.trigger !== undefined) return false;
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

/** Inserts `t` into the ascending `list` (times come nearly in order: usually an append). */
function insertSorted(list: number[], t: number): void {
  let i = list.length;
  while (i > 0 && (list[i - 1] as number) > t) i--;
  list.splice(i, 0, t);
}

/** What identifies a key in a set: itself when plain, else its encoding (tuples are new arrays per record). */
function keyId(key: Key): string | number | boolean {
  return typeof key === 'object' ? encodeKey(key) : key;
}

/**
 * One sliced window operator in one subtask. Slice `p` is `[offset + p*gcd, offset + (p+1)*gcd)`;
 * window `w` (numbered by its last slice) spans slices `w - n + 1 .. w` (n = size/gcd) and
 * exists when `w + 1 - n` is a multiple of m = slide/gcd.
 */
/**
 * One sliced window operator in one subtask. Slice `p` is `[offset + p*gcd, offset + (p+1)*gcd)`;
 * window `w` (numbered by its last slice) spans slices `w - n + 1 .. w` (n = size/gcd) and
 * exists when `w + 1 - n` is a multiple of m = slide/gcd.
 *
 * A key is visited when the watermark passes the next time it needs: the end of its next
 * window, or the cleanup of a slice. A visit fires every window of the key that the watermark
 * passed (reading each slice once for all of them), drops the slices no window needs any more,
 * and books the key's next visit. So a key costs a lookup per watermark that concerns it, not
 * one per (key, window), and results come key by key within one watermark.
 */
export class SlicedWindowOperator {
  private readonly slices: MapState<number, unknown>;
  private readonly slice: number;
  private readonly n: number;
  private readonly m: number;
  private readonly offset: number;
  private readonly lateness: number;
  private watermark = MIN_WATERMARK;
  /** Keys to visit by time (a key may be booked more than once: a visit is idempotent within a watermark). */
  private readonly visits = new Map<number, Key[]>();
  /** The times of `visits`, ascending. */
  private readonly visitTimes: number[] = [];
  /** The last booking's time and keys: in-order input books runs of keys at the same time. */
  private lastBookedAt = Number.NaN;
  private lastBooked: Key[] = [];
  /** After a restore: per key group, the watermark its windows had fired up to (until ours passes them all). */
  private restoredFired: Float64Array | undefined;
  private restoredFiredMax = MIN_WATERMARK;
  private stopped = false;
  private firingAt = 0;
  private readonly collector = { collect: (r: unknown) => this.out.emit(r, this.firingAt) };
  private readonly context: { window: TimeWindow; currentWatermark(): number; currentProcessingTime(): number };
  /** Scratch of a visit: the key's slice numbers (ascending) and accumulators. */
  private readonly panes: number[] = [];
  private readonly accs: unknown[] = [];

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
    this.slices = backend.getMapState('window-slices');
    this.context = { window: { start: 0, end: 0 }, currentWatermark: () => this.watermark, currentProcessingTime: now };
  }

  /** The state that a restore cannot rebuild from the slices: how far windows fired, by key group. */
  snapshotFired(): FiredState {
    const range = this.backend.keyGroupRange;
    const restored = this.restoredFired;
    if (restored === undefined) return { fired: [[range.start, range.end, this.watermark]] };
    const fired: FiredRange[] = [];
    for (let kg = range.start; kg <= range.end; kg++) {
      const wm = Math.max(this.watermark, restored[kg] as number);
      const last = fired[fired.length - 1];
      if (last !== undefined && last[2] === wm && last[1] === kg - 1) fired[fired.length - 1] = [last[0], kg, wm];
      else fired.push([kg, kg, wm]);
    }
    return { fired };
  }

  /**
   * Books a visit for every key of the (restored) slices, given what every old subtask's
   * `snapshotFired` said (none: nothing had fired). Call once, before any record.
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
      const wm = this.firedWatermark();
      let next = Number.POSITIVE_INFINITY;
      for (const p of this.slices.keys()) next = Math.min(next, this.nextTimeOf(p, wm));
      if (next !== Number.POSITIVE_INFINITY) this.book(next, key);
    }
  }

  /** No more windows fire (end of input, or the task ends). */
  stop(): void {
    this.stopped = true;
  }

  /** A record of the backend's current key at event time `timestamp`. */
  processElement(value: unknown, timestamp: number): void {
    const p = Math.floor((timestamp - this.offset) / this.slice);
    const first = this.firstWindowOf(p);
    const last = this.lastWindowOf(p);
    const wm = this.firedWatermark();
    const lateness = this.lateness;
    if (this.maxTimestamp(last) + lateness <= wm) {
      // Late beyond the lateness for every window it is in.
      if (this.spec.lateTag !== undefined) this.out.emitSide(this.spec.lateTag, value, timestamp);
      return;
    }
    const current = this.slices.get(p);
    this.slices.put(p, this.added(current, value));
    if (current === undefined) this.book(this.nextTimeOf(p, wm), this.backend.currentKey as Key);
    // Late within the lateness: every window it joined that fired already fires again (latest first, as WindowOperator does).
    if (this.maxTimestamp(first) <= wm) {
      for (let w = last; w >= first; w -= this.m) {
        const maxTs = this.maxTimestamp(w);
        if (maxTs <= wm && maxTs + lateness > wm) this.fireFromState(w);
      }
    }
  }

  /** Visits, in time order, every key booked at or before `watermark`. */
  advanceWatermark(watermark: number): void {
    if (watermark <= this.watermark) return;
    const before = this.watermark;
    // What restored key groups had fired counts for the visits below even when this watermark passes it.
    const restored = this.restoredFired;
    this.watermark = watermark;
    if (restored !== undefined && watermark >= this.restoredFiredMax) this.restoredFired = undefined;
    const times = this.visitTimes;
    if (times.length === 0 || (times[0] as number) > watermark) return;
    this.lastBookedAt = Number.NaN; // bookings from here on are after `watermark`: new buckets
    const visited = new Set<string | number | boolean>();
    while (!this.stopped && times.length > 0 && (times[0] as number) <= watermark) {
      const t = times.shift() as number;
      const keys = this.visits.get(t) as Key[];
      this.visits.delete(t);
      for (const key of keys) {
        const id = keyId(key);
        if (visited.has(id)) continue;
        visited.add(id);
        this.visit(key, before, watermark, restored);
        if (this.stopped) return;
      }
    }
  }

  /** The watermark that the current key's windows fired up to: ours, or higher for a key group restored from a subtask that was ahead. */
  private firedWatermark(): number {
    const restored = this.restoredFired;
    if (restored === undefined) return this.watermark;
    return Math.max(this.watermark, restored[this.backend.currentKeyGroup as number] as number);
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

  private maxTimestamp(w: number): number {
    return this.offset + (w + 1) * this.slice - 1;
  }

  /** When slice `p` next needs its key visited, windows up to `wm` having fired: its next window's end, or its cleanup. */
  private nextTimeOf(p: number, wm: number): number {
    const cleanup = this.maxTimestamp(this.lastWindowOf(p)) + this.lateness;
    let w = this.firstWindowOf(p);
    const firstMaxTs = this.maxTimestamp(w);
    if (firstMaxTs <= wm) w += Math.ceil((wm - firstMaxTs + 1) / (this.m * this.slice)) * this.m;
    return Math.min(cleanup, this.maxTimestamp(w));
  }

  private book(time: number, key: Key): void {
    if (time === this.lastBookedAt) {
      this.lastBooked.push(key);
      return;
    }
    let keys = this.visits.get(time);
    if (keys === undefined) {
      keys = [];
      this.visits.set(time, keys);
      insertSorted(this.visitTimes, time);
    }
    keys.push(key);
    this.lastBookedAt = time;
    this.lastBooked = keys;
  }

  /**
   * The watermark went from `before` to `now`: fires the key's windows that end in between
   * (and after what its key group had fired before a restore, `restored`), drops its slices that no window needs
   * any more, and books its next visit.
   */
  private visit(key: Key, before: number, now: number, restored: Float64Array | undefined): void {
    this.backend.setCurrentKey(key);
    const fired = restored === undefined ? before : Math.max(before, restored[this.backend.currentKeyGroup as number] as number);
    const panes = this.panes;
    const accs = this.accs;
    panes.length = 0;
    accs.length = 0;
    let sorted = true;
    for (const q of this.slices.keys()) {
      if (panes.length > 0 && q < (panes[panes.length - 1] as number)) sorted = false;
      panes.push(q);
    }
    if (panes.length === 0) return;
    if (!sorted) panes.sort((a, b) => a - b);
    for (const q of panes) accs.push(this.slices.get(q));
    const n = this.n;
    const m = this.m;
    const count = panes.length;
    let next = Number.POSITIVE_INFINITY;
    // Windows in ascending order, each with the slices it spans (panes[from..to]); gaps without slices skipped.
    let from = 0;
    let w = this.firstWindowOf(panes[0] as number);
    for (;;) {
      while (from < count && (panes[from] as number) < w - n + 1) from++;
      if (from === count) break;
      if ((panes[from] as number) > w) {
        w = this.firstWindowOf(panes[from] as number);
        continue;
      }
      const maxTs = this.maxTimestamp(w);
      if (maxTs > now) {
        next = maxTs;
        break;
      }
      if (maxTs > fired) {
        let to = from;
        while (to + 1 < count && (panes[to + 1] as number) <= w) to++;
        this.emitWindow(w, from, to);
      }
      w += m;
    }
    for (let i = 0; i < count; i++) {
      const q = panes[i] as number;
      const cleanup = this.maxTimestamp(this.lastWindowOf(q)) + this.lateness;
      if (cleanup <= now) this.slices.remove(q);
      else if (cleanup < next) next = cleanup;
    }
    if (next !== Number.POSITIVE_INFINITY) this.book(next, key);
  }

  /** Emits window `w`'s result for the current key from the accumulators `accs[from..to]` of the visit. */
  private emitWindow(w: number, from: number, to: number): void {
    const fn = this.spec.fn;
    const accs = this.accs;
    let acc: unknown;
    try {
      if (fn.kind === 'reduce') {
        acc = accs[from];
        for (let i = from + 1; i <= to; i++) acc = fn.reduce(acc, accs[i]);
      } else if (fn.kind === 'aggregate') {
        const aggregate = fn.aggregate as AggregateFunction<unknown, unknown, unknown>;
        if (this.n === 1) acc = accs[from];
        else {
          const merge = aggregate.merge as (a: unknown, b: unknown) => unknown;
          acc = aggregate.createAccumulator();
          for (let i = from; i <= to; i++) acc = merge(acc, accs[i]);
        }
        acc = aggregate.getResult(acc);
      }
    } catch (err) {
      throw this.userError(err);
    }
    this.emit(w, acc);
  }

  /** Emits window `w`'s result for the current key, its slices read from state (a late record's firing). */
  private fireFromState(w: number): void {
    const accs = this.accs;
    accs.length = 0;
    for (let q = w - this.n + 1; q <= w; q++) {
      const s = this.slices.get(q);
      if (s !== undefined) accs.push(s);
    }
    if (accs.length > 0) this.emitWindow(w, 0, accs.length - 1);
  }

  private emit(w: number, result: unknown): void {
    const fn = this.spec.fn;
    const ts = this.maxTimestamp(w);
    const process = fn.kind === 'process' ? undefined : fn.process;
    if (process === undefined) return this.out.emit(result, ts);
    const end = ts + 1;
    this.context.window = { start: end - (this.spec.assigner.size as number), end };
    this.firingAt = ts;
    try {
      (process as ProcessWindowFunction<unknown, unknown, Key>)(this.backend.currentKey as Key, this.context as ProcessWindowContext, [result], this.collector);
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
