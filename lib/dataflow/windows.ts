/**
 * Windows (Flink's WindowOperator with its default triggers), as logic over a keyed state
 * backend and a timer service, so that a window's contents and timers are keyed state:
 * checkpointed, restored and rescaled by key group.
 *
 * A record goes to the windows its assigner gives for its timestamp (event time) or for the
 * clock (processing time). A window `[start, end)` fires when the watermark (or the clock)
 * reaches `end - 1`, emitting its result with timestamp `end - 1`; its contents are kept
 * `allowedLateness` longer, and every late record within that time fires the window again with
 * the updated result. A record whose windows are all past their lateness is dropped, or goes
 * to the late-data side output. Session windows merge: a record's window `[t, t + gap)` is
 * merged with every window of its key that it overlaps.
 */
import { InvalidJobGraphError } from './errors.js';
import type { Evictor, TimestampedValue } from './evictors.js';
import type { Collector } from './functions.js';
import type { Key } from './keyhash.js';
import type { HeapKeyedStateBackend, MapState, ValueState } from './state.js';
import { TimeDomain, type FiredTimer, type InternalTimerService } from './timers.js';

/** A window of time: `[start, end)`. */
export interface TimeWindow {
  readonly start: number;
  readonly end: number;
}

/** The last timestamp that belongs to a window. */
export function maxTimestamp(w: TimeWindow): number {
  return w.end - 1;
}

/** Flink's TimeWindow.getWindowStartWithOffset. */
export function windowStart(timestamp: number, offset: number, size: number): number {
  const remainder = (timestamp - offset) % size;
  return remainder < 0 ? timestamp - (remainder + size) : timestamp - remainder;
}

/** Which windows a record belongs to; plain data plus the assignment. */
export interface WindowAssigner {
  readonly kind: 'tumbling' | 'sliding' | 'session';
  readonly eventTime: boolean;
  /** Session windows only: they merge. */
  readonly gap?: number;
  /** Tumbling and sliding windows: their size (a window is known by its start). */
  readonly size?: number;
  /** Tumbling and sliding windows: a window starts every `slide` (the size, for tumbling ones), `offset` after the epoch. */
  readonly slide?: number;
  readonly offset?: number;
  assign(timestamp: number): TimeWindow[];
}

function checkDuration(what: string, ms: number, min: number): void {
  if (!Number.isFinite(ms) || ms < min) throw new InvalidJobGraphError(undefined, `${what} must be a finite number of milliseconds >= ${min}, got ${ms}`);
}

function tumbling(eventTime: boolean, size: number, offset: number): WindowAssigner {
  checkDuration('window size', size, 1);
  checkDuration('window offset', Math.abs(offset), 0);
  return {
    kind: 'tumbling',
    eventTime,
    size,
    slide: size,
    offset,
    assign(ts) {
      const start = windowStart(ts, offset, size);
      return [{ start, end: start + size }];
    },
  };
}

function sliding(eventTime: boolean, size: number, slide: number, offset: number): WindowAssigner {
  checkDuration('window size', size, 1);
  checkDuration('window slide', slide, 1);
  return {
    kind: 'sliding',
    eventTime,
    size,
    slide,
    offset,
    assign(ts) {
      const out: TimeWindow[] = [];
      const last = windowStart(ts, offset, slide);
      for (let start = last; start > ts - size; start -= slide) out.push({ start, end: start + size });
      return out;
    },
  };
}

function session(eventTime: boolean, gap: number): WindowAssigner {
  checkDuration('session gap', gap, 1);
  return { kind: 'session', eventTime, gap, assign: (ts) => [{ start: ts, end: ts + gap }] };
}

/** Fixed-size, non-overlapping windows by event time. */
export const TumblingEventTimeWindows = { of: (sizeMs: number, offsetMs = 0): WindowAssigner => tumbling(true, sizeMs, offsetMs) };
/** Fixed-size, non-overlapping windows by the clock of the subtask. */
export const TumblingProcessingTimeWindows = { of: (sizeMs: number, offsetMs = 0): WindowAssigner => tumbling(false, sizeMs, offsetMs) };
/** Windows of `size` starting every `slide`, by event time: a record is in size/slide of them. */
export const SlidingEventTimeWindows = { of: (sizeMs: number, slideMs: number, offsetMs = 0): WindowAssigner => sliding(true, sizeMs, slideMs, offsetMs) };
export const SlidingProcessingTimeWindows = { of: (sizeMs: number, slideMs: number, offsetMs = 0): WindowAssigner => sliding(false, sizeMs, slideMs, offsetMs) };
/** A window per burst of activity: it ends `gap` after the key's last record. */
export const EventTimeSessionWindows = { withGap: (gapMs: number): WindowAssigner => session(true, gapMs) };
export const ProcessingTimeSessionWindows = { withGap: (gapMs: number): WindowAssigner => session(false, gapMs) };

/** Flink's AggregateFunction: an accumulator per window. */
export interface AggregateFunction<T, A, R> {
  createAccumulator(): A;
  add(value: T, accumulator: A): A;
  getResult(accumulator: A): R;
  /** Session windows only: two windows' accumulators into one. */
  merge?(a: A, b: A): A;
}

/** What a process window function sees besides the elements. */
export interface ProcessWindowContext {
  readonly window: TimeWindow;
  currentWatermark(): number;
  currentProcessingTime(): number;
}

/** Flink's ProcessWindowFunction: all of a window's elements (or its pre-aggregated result) at once. */
export type ProcessWindowFunction<IN, O, K extends Key> = (key: K, context: ProcessWindowContext, elements: IN[], out: Collector<O>) => void;

/** How a window's contents are kept and turned into output. */
export type WindowFunctionSpec =
  | { readonly kind: 'reduce'; readonly reduce: (a: unknown, b: unknown) => unknown; readonly process?: ProcessWindowFunction<unknown, unknown, Key> }
  | { readonly kind: 'aggregate'; readonly aggregate: AggregateFunction<unknown, unknown, unknown>; readonly process?: ProcessWindowFunction<unknown, unknown, Key> }
  | { readonly kind: 'process'; readonly process: ProcessWindowFunction<unknown, unknown, Key> };

/** What a trigger decides: nothing yet, emit the window's result, drop its contents, or both. */
export type TriggerResult = 'continue' | 'fire' | 'purge' | 'fireAndPurge';

/** A trigger's view of one window of the current key. */
export interface TriggerContext {
  readonly window: TimeWindow;
  currentWatermark(): number;
  currentProcessingTime(): number;
  registerEventTimeTimer(timestamp: number): void;
  registerProcessingTimeTimer(timestamp: number): void;
  deleteEventTimeTimer(timestamp: number): void;
  deleteProcessingTimeTimer(timestamp: number): void;
  /** A value kept per key and window (keyed state: checkpointed with the window). */
  getState<V>(name: string): { value(): V | undefined; update(value: V): void; clear(): void };
}

/** A merging trigger's view of the session window that others merged into. */
export interface OnMergeContext extends TriggerContext {
  /** The values of state `name` in the windows merged into this one (those that have one). */
  mergedState<V>(name: string): V[];
}

/**
 * Flink's Trigger: when a window emits. Replaces the default (fire when the watermark or the
 * clock reaches the window's end); the window is still cleared at its end plus the allowed
 * lateness, a timer of the trigger at that time firing first.
 *
 * On session windows a trigger must merge (Flink's canMerge/onMerge): when sessions merge,
 * `onMerge` is called for the resulting window, where it combines the state of the merged ones
 * (`mergedState`) and registers the timers it needs; then `clear` for each merged window, whose
 * state and cleanup timer are gone afterwards.
 */
export interface Trigger {
  onElement(element: unknown, timestamp: number, ctx: TriggerContext): TriggerResult;
  onEventTime?(time: number, ctx: TriggerContext): TriggerResult;
  onProcessingTime?(time: number, ctx: TriggerContext): TriggerResult;
  /** Sessions `mergedFrom` became `ctx.window`: take their state over. Required on session windows. */
  onMerge?(mergedFrom: readonly TimeWindow[], ctx: OnMergeContext): void;
  /** The window is cleared (or merged into another): drop what the trigger kept, delete its timers. */
  clear?(ctx: TriggerContext): void;
}

/** Fires every `count` records of a window (Flink's CountTrigger). */
export const CountTrigger = {
  of(count: number): Trigger {
    if (!Number.isInteger(count) || count < 1) throw new InvalidJobGraphError(undefined, `CountTrigger needs a count >= 1, got ${count}`);
    return {
      onElement(_e, _ts, ctx) {
        const seen = ctx.getState<number>('count');
        const n = (seen.value() ?? 0) + 1;
        if (n < count) {
          seen.update(n);
          return 'continue';
        }
        seen.clear();
        return 'fire';
      },
      // Merged sessions count what each had counted (the next record fires if that reaches `count`).
      onMerge(_from, ctx) {
        const total = ctx.mergedState<number>('count').reduce((a, b) => a + b, ctx.getState<number>('count').value() ?? 0);
        if (total > 0) ctx.getState<number>('count').update(total);
      },
      clear: (ctx) => ctx.getState('count').clear(),
    };
  },
};

export interface WindowSpec {
  readonly assigner: WindowAssigner;
  readonly allowedLatenessMs: number;
  /** Instead of the default trigger. */
  readonly trigger?: Trigger;
  /** Keeps every record (no incremental aggregation) and removes some before/after the function. */
  readonly evictor?: Evictor;
  /** Side output tag id for records too late for every window. */
  readonly lateTag?: string;
  readonly fn: WindowFunctionSpec;
}

/** Where the window operator's results go. */
export interface WindowOutput {
  emit(record: unknown, timestamp: number): void;
  emitSide(tag: string, record: unknown, timestamp: number): void;
}

const FIRE = 'f';
const CLEANUP = 'c';
/** Timers of a custom trigger and the cleanup of its window share this namespace, so one at the cleanup time does both (as in Flink). */
const TRIGGER = 't';

/**
 * How a window is named in state and timers. Fixed-size windows are known by their start (a
 * number: cheap map keys) and their timers need no more than fire/cleanup, the window follows
 * from the timer's time; session windows by `start:end`, in the timer namespace too.
 */
type WindowId = number | string;

/** A record of a window with an evictor, as its state keeps it: [value, timestamp]. */
type KeptRecord = [unknown, number];

/** `current` (a window's kept records, or nothing yet) with one more, in place (as process windows' lists). */
function withKept(current: unknown, value: unknown, timestamp: number): KeptRecord[] {
  const record: KeptRecord = [value, timestamp];
  if (current === undefined) return [record];
  (current as KeptRecord[]).push(record);
  return current as KeptRecord[];
}

/** Where a trigger's state `name` of window `w` is kept in the key's `trigger-state` map. */
function triggerStateKey(w: TimeWindow, name: string): string {
  return `${w.start}:${w.end}|${name}`;
}

function parseWindow(id: string): TimeWindow {
  const at = id.indexOf(':');
  return { start: Number(id.slice(0, at)), end: Number(id.slice(at + 1)) };
}

/** Merges `w` into the windows it overlaps (Flink's TimeWindow.intersects: touching counts). */
export function mergeSessions(windows: readonly TimeWindow[], w: TimeWindow): { merged: TimeWindow; absorbed: TimeWindow[] } {
  let start = w.start;
  let end = w.end;
  const absorbed: TimeWindow[] = [];
  // Repeat until stable: growing the window may make it reach another one.
  let changed = true;
  const rest = [...windows];
  while (changed) {
    changed = false;
    for (let i = rest.length - 1; i >= 0; i--) {
      const o = rest[i] as TimeWindow;
      if (o.start <= end && o.end >= start) {
        start = Math.min(start, o.start);
        end = Math.max(end, o.end);
        absorbed.push(o);
        rest.splice(i, 1);
        changed = true;
      }
    }
  }
  return { merged: { start, end }, absorbed };
}

/**
 * One window operator in one subtask.
 * State: `window-contents` (map window id -> accumulator, or the element list for `process`)
 * and, for sessions, `session-windows` (the key's windows).
 */
export class WindowOperator {
  private readonly contents: MapState<WindowId, unknown>;
  private readonly triggerState: MapState<string, unknown>;
  private readonly sessions: ValueState<TimeWindow[]>;
  private readonly lateness: number;
  /** What process window functions emit into, at the time of the window that fires (one collector for all firings). */
  private firingAt = 0;
  private readonly collector: Collector<unknown> = { collect: (r) => this.out.emit(r, this.firingAt) };
  /** Fixed-size windows: their size; undefined for sessions. */
  private readonly size: number | undefined;
  /** Fixed-size windows with the default trigger and no evictor: records take addToFixedWindows. */
  private readonly onFixedPath: boolean;

  constructor(
    private readonly spec: WindowSpec,
    private readonly backend: HeapKeyedStateBackend,
    private readonly timers: InternalTimerService,
    private readonly now: () => number,
    private readonly out: WindowOutput,
    /** Wraps user calls so that their errors name the operator. */
    private readonly call: <R>(fn: () => R) => R,
  ) {
    this.contents = backend.getMapState('window-contents');
    this.sessions = backend.getValueState('session-windows');
    this.triggerState = backend.getMapState('trigger-state');
    this.lateness = spec.assigner.eventTime ? spec.allowedLatenessMs : 0;
    this.size = spec.assigner.kind === 'session' ? undefined : spec.assigner.size;
    this.onFixedPath = this.size !== undefined && spec.trigger === undefined && spec.evictor === undefined;
  }

  private idOf(w: TimeWindow): WindowId {
    return this.size === undefined ? `${w.start}:${w.end}` : w.start;
  }

  /** The timer namespace of a window's firing or cleanup. */
  private namespaceOf(kind: string, w: TimeWindow): string {
    return this.size === undefined ? `${kind}${w.start}:${w.end}` : kind;
  }

  /** A record of the current key, at its event time (event-time windows) or now. */
  processElement(value: unknown, timestamp: number): void {
    const assigner = this.spec.assigner;
    const time = assigner.eventTime ? timestamp : this.now();
    if (this.onFixedPath) return this.addToFixedWindows(value, timestamp, time);
    const watermark = this.timers.currentWatermark;
    let placed = false;
    for (const assigned of assigner.assign(time)) {
      let w = assigned;
      if (assigner.kind === 'session') {
        w = this.mergeSession(assigned);
      }
      if (this.isLate(w, watermark)) {
        if (assigner.kind === 'session') this.dropSession(w);
        continue;
      }
      placed = true;
      const id = this.idOf(w);
      this.contents.put(id, this.spec.evictor === undefined ? this.added(this.contents.get(id), value) : withKept(this.contents.get(id), value, timestamp));
      const trigger = this.spec.trigger;
      if (trigger !== undefined) {
        this.timers.register(this.domain(), `${TRIGGER}${w.start}:${w.end}`, this.cleanupTime(w));
        const ctx = this.triggerContext(w);
        this.act(this.call(() => trigger.onElement(value, timestamp, ctx)), w);
        continue;
      }
      if (assigner.eventTime && maxTimestamp(w) <= watermark) {
        this.fire(w); // a late record within the allowed lateness: fire again with it
      } else {
        this.timers.register(this.domain(), this.namespaceOf(FIRE, w), maxTimestamp(w));
      }
      // Without lateness the firing timer clears the window too (a cleanup timer at the same time could come first).
      if (this.lateness > 0) this.timers.register(this.domain(), this.namespaceOf(CLEANUP, w), maxTimestamp(w) + this.lateness);
    }
    if (!placed && this.spec.lateTag !== undefined) this.out.emitSide(this.spec.lateTag, value, timestamp);
  }

  /**
   * processElement for tumbling and sliding windows with the default trigger: the windows
   * are walked by their start (no window objects), and a window that already has contents
   * already has its timers (its first record registered them; a restore brings them back
   * with the contents), so only a new window registers any.
   */
  private addToFixedWindows(value: unknown, timestamp: number, time: number): void {
    const assigner = this.spec.assigner;
    const size = this.size as number;
    const slide = assigner.slide as number;
    const watermark = this.timers.currentWatermark;
    const domain = this.domain();
    let placed = false;
    for (let start = windowStart(time, assigner.offset as number, slide); start > time - size; start -= slide) {
      const maxTs = start + size - 1;
      if (assigner.eventTime && maxTs + this.lateness <= watermark) continue; // late, past the lateness
      placed = true;
      const current = this.contents.get(start);
      this.contents.put(start, this.added(current, value));
      if (assigner.eventTime && maxTs <= watermark) {
        this.fire({ start, end: start + size }); // a late record within the allowed lateness: fire again with it
        if (current === undefined && this.lateness > 0) this.timers.register(domain, CLEANUP, maxTs + this.lateness);
        continue;
      }
      if (current !== undefined) continue;
      this.timers.register(domain, FIRE, maxTs);
      // Without lateness the firing timer clears the window too (a cleanup timer at the same time could come first).
      if (this.lateness > 0) this.timers.register(domain, CLEANUP, maxTs + this.lateness);
    }
    if (!placed && this.spec.lateTag !== undefined) this.out.emitSide(this.spec.lateTag, value, timestamp);
  }

  onTimer(timer: FiredTimer): void {
    const kind = timer.namespace[0];
    if (kind === TRIGGER) return this.onTriggerTimer(timer);
    let w: TimeWindow;
    if (this.size === undefined) {
      w = parseWindow(timer.namespace.slice(1));
    } else {
      const end = (kind === FIRE ? timer.timestamp : timer.timestamp - this.lateness) + 1;
      w = { start: end - this.size, end };
    }
    if (kind === FIRE) {
      this.fire(w);
      if (this.lateness === 0) this.clear(w);
    } else if (kind === CLEANUP) {
      this.clear(w);
    }
  }

  private cleanupTime(w: TimeWindow): number {
    return maxTimestamp(w) + this.lateness;
  }

  private onTriggerTimer(timer: FiredTimer): void {
    const trigger = this.spec.trigger as Trigger;
    const w = parseWindow(timer.namespace.slice(1));
    const ctx = this.triggerContext(w);
    const handler = timer.domain === TimeDomain.EventTime ? trigger.onEventTime : trigger.onProcessingTime;
    if (handler !== undefined) this.act(this.call(() => handler.call(trigger, timer.timestamp, ctx)), w);
    if (timer.domain === this.domain() && timer.timestamp === this.cleanupTime(w)) {
      if (trigger.clear !== undefined) this.call(() => trigger.clear?.(ctx));
      this.clear(w);
    }
  }

  private act(result: TriggerResult, w: TimeWindow): void {
    if (result === 'fire' || result === 'fireAndPurge') this.fire(w);
    if (result === 'purge' || result === 'fireAndPurge') this.contents.remove(this.idOf(w));
  }

  private triggerContext(w: TimeWindow): TriggerContext {
    const ns = `${TRIGGER}${w.start}:${w.end}`;
    const stateKey = (name: string) => triggerStateKey(w, name);
    const state = this.triggerState;
    return {
      window: w,
      currentWatermark: () => this.timers.currentWatermark,
      currentProcessingTime: this.now,
      registerEventTimeTimer: (t) => this.timers.register(TimeDomain.EventTime, ns, t),
      registerProcessingTimeTimer: (t) => this.timers.register(TimeDomain.ProcessingTime, ns, t),
      deleteEventTimeTimer: (t) => this.timers.delete(TimeDomain.EventTime, ns, t),
      deleteProcessingTimeTimer: (t) => this.timers.delete(TimeDomain.ProcessingTime, ns, t),
      getState: <V>(name: string) => ({
        value: () => state.get(stateKey(name)) as V | undefined,
        update: (v: V) => state.put(stateKey(name), v),
        clear: () => state.remove(stateKey(name)),
      }),
    };
  }

  private domain(): TimeDomain {
    return this.spec.assigner.eventTime ? TimeDomain.EventTime : TimeDomain.ProcessingTime;
  }

  private isLate(w: TimeWindow, watermark: number): boolean {
    return this.spec.assigner.eventTime && maxTimestamp(w) + this.lateness <= watermark;
  }

  /** Throws `err` as if a user call had (named after the operator). */
  private rethrow(err: unknown): never {
    return this.call(() => {
      throw err;
    });
  }

  private added(current: unknown, value: unknown): unknown {
    const fn = this.spec.fn;
    // Called for every record and window: the user's functions directly, not through a closure each time.
    switch (fn.kind) {
      case 'reduce':
        if (current === undefined) return value;
        try {
          return fn.reduce(current, value);
        } catch (err) {
          return this.rethrow(err);
        }
      case 'aggregate': {
        const aggregate = fn.aggregate;
        try {
          return aggregate.add(value, current === undefined ? aggregate.createAccumulator() : current);
        } catch (err) {
          return this.rethrow(err);
        }
      }
      case 'process':
        // In place (a copy per record would be quadratic): a snapshot shares the list, but it is encoded before the next record.
        if (current === undefined) return [value];
        (current as unknown[]).push(value);
        return current;
    }
  }

  private mergedContents(a: unknown, b: unknown): unknown {
    if (this.spec.evictor !== undefined) return [...(a as unknown[]), ...(b as unknown[])];
    const fn = this.spec.fn;
    switch (fn.kind) {
      case 'reduce':
        return this.call(() => fn.reduce(a, b));
      case 'aggregate': {
        const merge = fn.aggregate.merge;
        if (merge === undefined) throw new TypeError('session windows need an AggregateFunction with merge()');
        return this.call(() => merge(a, b));
      }
      case 'process':
        return [...(a as unknown[]), ...(b as unknown[])];
    }
  }

  /** The key's session window that `w` joins, with the contents and timers of those it absorbed moved to it. */
  private mergeSession(w: TimeWindow): TimeWindow {
    const windows = this.sessions.value() ?? [];
    const { merged, absorbed } = mergeSessions(windows, w);
    let contents: unknown;
    for (const old of absorbed) {
      const id = this.idOf(old);
      const c = this.contents.get(id);
      if (c !== undefined) contents = contents === undefined ? c : this.mergedContents(contents, c);
      this.contents.remove(id);
      this.timers.delete(this.domain(), this.namespaceOf(FIRE, old), maxTimestamp(old));
      if (this.lateness > 0) this.timers.delete(this.domain(), this.namespaceOf(CLEANUP, old), maxTimestamp(old) + this.lateness);
    }
    if (contents !== undefined) this.contents.put(this.idOf(merged), contents);
    // A window the new one fell into is the merged one itself: nothing of its trigger moves.
    const mergedFrom = absorbed.filter((o) => this.idOf(o) !== this.idOf(merged));
    if (this.spec.trigger !== undefined && mergedFrom.length > 0) this.mergeTrigger(this.spec.trigger, mergedFrom, merged);
    const kept = windows.filter((o) => !absorbed.includes(o));
    this.sessions.update([...kept, merged]);
    return merged;
  }

  /** Flink's order: the trigger merges into the new window, then each merged one is cleared. */
  private mergeTrigger(trigger: Trigger, mergedFrom: readonly TimeWindow[], merged: TimeWindow): void {
    const ctx: OnMergeContext = {
      ...this.triggerContext(merged),
      mergedState: <V>(name: string) => mergedFrom.map((o) => this.triggerState.get(triggerStateKey(o, name)) as V | undefined).filter((v): v is V => v !== undefined),
    };
    this.call(() => trigger.onMerge?.(mergedFrom, ctx));
    for (const old of mergedFrom) {
      const oldCtx = this.triggerContext(old);
      if (trigger.clear !== undefined) this.call(() => trigger.clear?.(oldCtx));
      this.timers.delete(this.domain(), `${TRIGGER}${old.start}:${old.end}`, this.cleanupTime(old));
      // Whatever the trigger left of the merged window's state goes with it.
      const prefix = triggerStateKey(old, '');
      for (const key of [...this.triggerState.keys()]) if (String(key).startsWith(prefix)) this.triggerState.remove(key);
    }
  }

  private dropSession(w: TimeWindow): void {
    const id = this.idOf(w);
    if (this.contents.contains(id)) return; // an existing window absorbed a late record: leave it to its timers
    const windows = (this.sessions.value() ?? []).filter((o) => this.idOf(o) !== id);
    this.sessions.update(windows.length === 0 ? undefined : windows);
  }

  private fire(w: TimeWindow): void {
    const contents = this.contents.get(this.idOf(w));
    if (contents === undefined) return;
    const ctx: ProcessWindowContext = { window: w, currentWatermark: () => this.timers.currentWatermark, currentProcessingTime: this.now };
    if (this.spec.evictor !== undefined) return this.fireEvicting(this.spec.evictor, w, contents as KeptRecord[], ctx);
    this.emitWindow(w, contents, ctx);
  }

  /** The window function over `contents` (a reduced value, an accumulator or the record list). */
  private emitWindow(w: TimeWindow, contents: unknown, ctx: ProcessWindowContext): void {
    const key = this.backend.currentKey as Key;
    const ts = maxTimestamp(w);
    const fn = this.spec.fn;
    this.firingAt = ts;
    const collector = this.collector;
    switch (fn.kind) {
      case 'reduce':
        if (fn.process === undefined) this.out.emit(contents, ts);
        else this.call(() => (fn.process as ProcessWindowFunction<unknown, unknown, Key>)(key, ctx, [contents], collector));
        return;
      case 'aggregate': {
        const result = this.call(() => fn.aggregate.getResult(contents));
        if (fn.process === undefined) this.out.emit(result, ts);
        else this.call(() => (fn.process as ProcessWindowFunction<unknown, unknown, Key>)(key, ctx, [result], collector));
        return;
      }
      case 'process':
        // A copy: the function may emit or keep the list, and a late record would change the live one.
        this.call(() => fn.process(key, ctx, (contents as unknown[]).slice(), collector));
        return;
    }
  }

  /**
   * Flink's EvictingWindowOperator: evict before, apply the function to what stays (its
   * contents built anew from those records), evict after; the window keeps what stayed.
   */
  private fireEvicting(evictor: Evictor, w: TimeWindow, contents: KeptRecord[], ctx: ProcessWindowContext): void {
    let records: readonly TimestampedValue[] = contents.map(([value, timestamp]) => ({ value, timestamp }));
    if (evictor.evictBefore !== undefined) records = this.call(() => (evictor.evictBefore as NonNullable<Evictor['evictBefore']>)(records, ctx));
    const rebuilt = this.contentsOf(records.map((r) => r.value));
    if (rebuilt !== undefined) this.emitWindow(w, rebuilt, ctx);
    if (evictor.evictAfter !== undefined) records = this.call(() => (evictor.evictAfter as NonNullable<Evictor['evictAfter']>)(records, ctx));
    if (records.length === contents.length) return; // nothing evicted: the state is what it was
    this.contents.put(this.idOf(w), records.map((r): KeptRecord => [r.value, r.timestamp]));
  }

  /** What the window function gets for `values`, added one by one; of none, an empty accumulator or list, and nothing to reduce. */
  private contentsOf(values: readonly unknown[]): unknown {
    const fn = this.spec.fn;
    if (values.length === 0) return fn.kind === 'reduce' ? undefined : fn.kind === 'aggregate' ? this.call(() => fn.aggregate.createAccumulator()) : [];
    let contents: unknown;
    for (const value of values) contents = this.added(contents, value);
    return contents;
  }

  private clear(w: TimeWindow): void {
    const id = this.idOf(w);
    this.contents.remove(id);
    if (this.spec.assigner.kind === 'session') {
      const windows = (this.sessions.value() ?? []).filter((o) => this.idOf(o) !== id);
      this.sessions.update(windows.length === 0 ? undefined : windows);
    }
  }
}
