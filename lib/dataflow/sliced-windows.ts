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
import type { Key } from './keyhash.js';
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

/** The keys one window fires for, and those whose slices it only has to clean up (it fired for them already). */
interface WindowKeys {
  /** The window's number: that of its last slice. */
  readonly w: number;
  fire: Key[];
  clean: Key[];
  fired: boolean;
}

/** Operator state: windows up to `watermark` fired in key groups `start..end`. */
type FiredRange = readonly [start: number, end: number, watermark: number];
interface FiredState {
  readonly fired: readonly FiredRange[];
}

/** Inserts `w` into the ascending `list` (windows come nearly in order: usually an append). */
function insertSorted(list: number[], w: number): void {
  let i = list.length;
  while (i > 0 && (list[i - 1] as number) > w) i--;
  list.splice(i, 0, w);
}

/**
 * One sliced window operator in one subtask. Slice `p` is `[offset + p*gcd, offset + (p+1)*gcd)`;
 * window `w` (numbered by its last slice) spans slices `w - n + 1 .. w` (n = size/gcd) and
 * exists when `w + 1 - n` is a multiple of m = slide/gcd.
 */
export class SlicedWindowOperator {
  private readonly slices: MapState<number, unknown>;
  private readonly slice: number;
  private readonly n: number;
  private readonly m: number;
  private readonly offset: number;
  private readonly lateness: number;
  private watermark = MIN_WATERMARK;
  private readonly windows = new Map<number, WindowKeys>();
  /** Window numbers not fired yet, ascending. */
  private readonly unfired: number[] = [];
  /** Fired, waiting for their cleanup at end - 1 + lateness (lateness > 0 only), ascending. */
  private readonly uncleaned: number[] = [];
  /** The highest slice number of any key: a record at or after it has no slice after its own. */
  private maxSlice = Number.NEGATIVE_INFINITY;
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
   * Rebuilds the index from the (restored) slices, given what every old subtask's
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
    const n = this.n;
    for (const key of this.backend.keysOf('window-slices')) {
      this.backend.setCurrentKey(key);
      const wm = this.firedWatermark();
      const windows = new Set<number>();
      for (const p of this.slices.keys()) {
        if (p > this.maxSlice) this.maxSlice = p;
        for (let w = this.firstWindowOf(p); w <= p + n - 1; w += this.m) windows.add(w);
      }
      for (const w of [...windows].sort((a, b) => a - b)) this.enlist(key, w, wm);
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
    const last = first + Math.floor((p + this.n - 1 - first) / this.m) * this.m;
    const wm = this.firedWatermark();
    const lateness = this.lateness;
    if (this.maxTimestamp(last) + lateness <= wm) {
      // Late beyond the lateness for every window it is in.
      if (this.spec.lateTag !== undefined) this.out.emitSide(this.spec.lateTag, value, timestamp);
      return;
    }
    const current = this.slices.get(p);
    this.slices.put(p, this.added(current, value));
    if (current === undefined) this.enlistSlice(p, first, last, wm);
    // Late within the lateness: every window it joined that fired already fires again (latest first, as WindowOperator does).
    if (this.maxTimestamp(first) <= wm) {
      for (let w = last; w >= first; w -= this.m) {
        const maxTs = this.maxTimestamp(w);
        if (maxTs <= wm && maxTs + lateness > wm) this.fire(w);
      }
    }
  }

  /** Fires and cleans up, in time order, every window that the watermark passed. */
  advanceWatermark(watermark: number): void {
    if (watermark <= this.watermark) return;
    this.watermark = watermark;
    if (this.restoredFired !== undefined && watermark >= this.restoredFiredMax) this.restoredFired = undefined;
    const lateness = this.lateness;
    while (!this.stopped) {
      const toFire = this.unfired[0];
      const toClean = this.uncleaned[0];
      const fireAt = toFire === undefined ? Number.POSITIVE_INFINITY : this.maxTimestamp(toFire);
      const cleanAt = toClean === undefined ? Number.POSITIVE_INFINITY : this.maxTimestamp(toClean) + lateness;
      if (toFire !== undefined && fireAt <= cleanAt && fireAt <= watermark) this.fireWindow(toFire);
      else if (toClean !== undefined && cleanAt <= watermark) this.cleanWindow(toClean);
      else break;
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

  private maxTimestamp(w: number): number {
    return this.offset + (w + 1) * this.slice - 1;
  }

  /**
   * The current key has a new slice `p` (in windows `first..last`): it joins the windows in
   * which it had no slice yet. At or after every slice seen so far (in-order input), only
   * earlier slices can share its windows, and the latest of them is the one to look for.
   */
  private enlistSlice(p: number, first: number, last: number, wm: number): void {
    const key = this.backend.currentKey as Key;
    const n = this.n;
    const m = this.m;
    if (p >= this.maxSlice) {
      this.maxSlice = p;
      let before = Number.NEGATIVE_INFINITY;
      for (let q = p - 1; q > p - n; q--) {
        if (this.slices.contains(q)) {
          before = q;
          break;
        }
      }
      // Windows whose first slice (w - n + 1) comes after `before` are new to the key.
      let w = first;
      if (w - n + 1 <= before) w += Math.ceil((before + n - w) / m) * m;
      for (; w <= last; w += m) this.enlist(key, w, wm);
      return;
    }
    for (let w = first; w <= last; w += m) {
      let shared = false;
      for (let q = w - n + 1; q <= w && !shared; q++) shared = q !== p && this.slices.contains(q);
      if (!shared) this.enlist(key, w, wm);
    }
  }

  /** `key` has a slice in window `w` (and `wm` is the watermark its windows fired up to). */
  private enlist(key: Key, w: number, wm: number): void {
    const maxTs = this.maxTimestamp(w);
    if (maxTs + this.lateness <= wm) return; // cleaned up already: nothing to fire or drop
    let keys = this.windows.get(w);
    if (keys === undefined) {
      keys = { w, fire: [], clean: [], fired: maxTs <= this.watermark };
      this.windows.set(w, keys);
      insertSorted(keys.fired ? this.uncleaned : this.unfired, w);
    }
    if (maxTs <= wm) keys.clean.push(key);
    else keys.fire.push(key);
  }

  private fireWindow(w: number): void {
    this.unfired.shift();
    const keys = this.windows.get(w) as WindowKeys;
    const backend = this.backend;
    for (const key of keys.fire) {
      backend.setCurrentKey(key);
      this.fire(w);
      if (this.lateness === 0) this.dropSlicesOf(w);
    }
    if (this.lateness === 0) {
      this.windows.delete(w);
      return;
    }
    keys.clean = keys.clean.length === 0 ? keys.fire : keys.clean.concat(keys.fire);
    keys.fire = [];
    keys.fired = true;
    insertSorted(this.uncleaned, w);
  }

  private cleanWindow(w: number): void {
    this.uncleaned.shift();
    const keys = this.windows.get(w) as WindowKeys;
    this.windows.delete(w);
    for (const key of keys.clean) {
      this.backend.setCurrentKey(key);
      this.dropSlicesOf(w);
    }
  }

  /** Drops the current key's slices whose last window is `w`: slices w-n+1 .. w-n+m. */
  private dropSlicesOf(w: number): void {
    const from = w - this.n + 1;
    for (let q = from; q < from + this.m; q++) this.slices.remove(q);
  }

  /** Emits window `w`'s result for the current key, its slices combined. */
  private fire(w: number): void {
    const fn = this.spec.fn;
    const slices = this.slices;
    let acc: unknown;
    let any = false;
    try {
      if (fn.kind === 'reduce') {
        for (let q = w - this.n + 1; q <= w; q++) {
          const s = slices.get(q);
          if (s === undefined) continue;
          acc = any ? fn.reduce(acc, s) : s;
          any = true;
        }
      } else if (fn.kind === 'aggregate') {
        const aggregate = fn.aggregate as AggregateFunction<unknown, unknown, unknown>;
        if (this.n === 1) {
          acc = slices.get(w);
          any = acc !== undefined;
        } else {
          const merge = aggregate.merge as (a: unknown, b: unknown) => unknown;
          for (let q = w - this.n + 1; q <= w; q++) {
            const s = slices.get(q);
            if (s === undefined) continue;
            acc = merge(any ? acc : aggregate.createAccumulator(), s);
            any = true;
          }
        }
        if (any) acc = aggregate.getResult(acc);
      }
    } catch (err) {
      throw this.userError(err);
    }
    if (!any) return;
    const ts = this.maxTimestamp(w);
    const process = fn.kind === 'process' ? undefined : fn.process;
    if (process === undefined) return this.out.emit(acc, ts);
    const end = ts + 1;
    this.context.window = { start: end - (this.spec.assigner.size as number), end };
    this.firingAt = ts;
    try {
      (process as ProcessWindowFunction<unknown, unknown, Key>)(this.backend.currentKey as Key, this.context as ProcessWindowContext, [acc], this.collector);
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
