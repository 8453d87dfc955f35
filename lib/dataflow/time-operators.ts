/**
 * The chain handlers of the operators that deal with time or with two inputs: timestamp
 * assigners, windows, process functions with timers, connected streams (co-map, co-flatMap,
 * co-process) and the broadcast-state pattern. ChainRunner (operators.ts) builds them with
 * the parts they need from the chain (keyed state, processing time, side outputs, operator
 * state); each passes watermarks on after acting on them (firing timers first).
 */
import type { OperatorDescription } from './description.js';
import { InvalidJobGraphError } from './errors.js';
import type {
  BroadcastContext,
  BroadcastProcessFunction,
  BroadcastState,
  CoProcessFunction,
  Collector,
  ProcessFunction,
  OnTimerContext,
  ProcessContext,
  ReadOnlyBroadcastContext,
} from './functions.js';
import type { Key } from './keyhash.js';
import { encodeKey } from './keyhash.js';
import { callUser, flatMapHandler, userError } from './user-calls.js';
import type { OutputTag } from './side-outputs.js';
import type { HeapKeyedStateBackend } from './state.js';
import type { StreamOperator } from './streamgraph.js';
import { InternalTimerService, TimeDomain, type FiredTimer, type ProcessingTimeService, type TimerService } from './timers.js';
import { MAX_WATERMARK, MIN_WATERMARK, NO_TIMESTAMP, type WatermarkOutput, type WatermarkStrategy } from './watermarks.js';
import { runsOnSlices, SlicedWindowOperator } from './sliced-windows.js';
import { WindowOperator, type WindowSpec } from './windows.js';

/** One operator's entry points in a chain. */
export interface ChainHandler {
  readonly record: (value: unknown, timestamp: number) => void;
  /** Two-input heads (connect) only: the records of the second input. */
  readonly record2?: (value: unknown, timestamp: number) => void;
  readonly watermark: (watermark: number) => void;
  readonly status: (idle: boolean) => void;
}

/** What an operator may ask of its chain. */
export interface EventTimeParts {
  readonly processingTime: ProcessingTimeService;
  keyed(which: 1 | 2): { backend: HeapKeyedStateBackend; keyOf: (record: unknown) => Key };
  /** Timers (or what else fires on time) that stop when the chain finishes. */
  addTimers(timers: { stop(): void }): void;
  /**
   * Operator state: `take` for snapshots, called before the chain's keyed backends are cut (so
   * it may write into keyed state what the operator keeps in memory); `restore` gets every old
   * subtask's state, in order.
   */
  addOperatorState(take: () => unknown, restore: (states: readonly unknown[], subtaskIndex: number) => void): void;
  /** Called every autoWatermarkInterval. */
  addPeriodic(tick: () => void): void;
  /** Called when the task starts, before any record. */
  addOpener(open: () => void): void;
  side(tag: string, record: unknown, timestamp: number): void;
}

function label(d: OperatorDescription): string {
  return `'${d.id}' (${d.name})`;
}

function tsOrUndefined(ts: number): number | undefined {
  return ts === NO_TIMESTAMP ? undefined : ts;
}

export function eventTimeHandler(op: StreamOperator, next: ChainHandler, parts: EventTimeParts): ChainHandler {
  const d = op.description;
  const logic = op.logic;
  switch (logic.kind) {
    case 'timestamps':
      return timestampsHandler(d, logic.strategy, next, parts);
    case 'window':
      return windowHandler(d, logic.spec, next, parts);
    case 'processWithTimers':
      return processHandler(d, logic.fn, logic.keyed, next, parts);
    case 'coMap': {
      const map = (fn: (v: unknown) => unknown) => (record: unknown, ts: number) => {
        let out: unknown;
        try {
          out = fn(record);
        } catch (err) {
          throw userError(d, err);
        }
        next.record(out, ts);
      };
      return { record: map(logic.fn1), record2: map(logic.fn2), watermark: next.watermark, status: next.status };
    }
    case 'coFlatMap':
      return { record: flatMapHandler(d, logic.fn1, next.record), record2: flatMapHandler(d, logic.fn2, next.record), watermark: next.watermark, status: next.status };
    case 'coProcess':
      return coProcessHandler(d, logic.fn, logic.keyed, next, parts);
    case 'broadcastProcess':
      return broadcastHandler(d, logic.fn, logic.keyed, next, parts);
    default:
      throw new InvalidJobGraphError(label(d), `no chain handler for a '${logic.kind}' operator`);
  }
}

/**
 * Assigns timestamps and runs the watermark generator; swallows the watermarks and idleness of
 * its input (it makes its own), except the end-of-input watermark. Its last watermark is
 * operator state, put out again first thing after a restore, so that downstream event time
 * does not go back (a rescaled assigner restores the lowest of the old subtasks').
 */
function timestampsHandler(d: OperatorDescription, strategy: WatermarkStrategy<unknown>, next: ChainHandler, parts: EventTimeParts): ChainHandler {
  const clock = { now: () => parts.processingTime.now(), setTimeout: () => undefined, clearTimeout: () => undefined };
  const generator = callUser(d, () => strategy.generator(clock));
  const assigner = strategy.timestampAssigner;
  let last = MIN_WATERMARK;
  let idle = false;
  const output: WatermarkOutput = {
    emitWatermark: (wm) => {
      if (idle) output.markActive();
      if (!(wm > last)) return;
      last = wm;
      next.watermark(wm);
    },
    markIdle: () => {
      if (idle) return;
      idle = true;
      next.status(true);
    },
    markActive: () => {
      if (!idle) return;
      idle = false;
      next.status(false);
    },
  };
  parts.addOperatorState(
    () => ({ watermark: last }),
    (states, index) => {
      const wms = states.map((s) => (s as { watermark?: number } | undefined)?.watermark ?? MIN_WATERMARK);
      // Same parallelism: this subtask's own; rescaled: the lowest, which holds nothing back that any old subtask did not.
      last = wms.length === d.parallelism ? (wms[index] ?? MIN_WATERMARK) : wms.reduce((a, b) => Math.min(a, b), MAX_WATERMARK);
      if (wms.length === 0) last = MIN_WATERMARK;
    },
  );
  parts.addOpener(() => {
    if (last > MIN_WATERMARK) next.watermark(last);
  });
  parts.addPeriodic(() => callUser(d, () => generator.onPeriodicEmit(output)));
  return {
    // Called for every record: the user's functions directly, not through a closure each time.
    record: (record, ts) => {
      let timestamp: unknown = ts;
      if (assigner !== undefined) {
        try {
          timestamp = assigner(record, ts);
        } catch (err) {
          throw userError(d, err);
        }
      }
      if (typeof timestamp !== 'number' || Number.isNaN(timestamp)) throw userError(d, new TypeError(`timestamp assigner returned ${String(timestamp)}, not a number`));
      next.record(record, timestamp);
      try {
        generator.onEvent(record, timestamp, output);
      } catch (err) {
        throw userError(d, err);
      }
    },
    watermark: (wm) => {
      if (wm === MAX_WATERMARK) output.emitWatermark(wm);
    },
    status: () => undefined,
  };
}

function windowHandler(d: OperatorDescription, spec: WindowSpec, next: ChainHandler, parts: EventTimeParts): ChainHandler {
  if (runsOnSlices(spec)) return slicedWindowHandler(d, spec, next, parts);
  const { backend, keyOf } = parts.keyed(1);
  let window: WindowOperator | undefined;
  const timers = new InternalTimerService(backend, parts.processingTime, (t) => (window as WindowOperator).onTimer(t));
  window = new WindowOperator(spec, backend, timers, () => parts.processingTime.now(), { emit: next.record, emitSide: parts.side }, (fn) => callUser(d, fn));
  timers.restore();
  parts.addTimers(timers);
  const eventTime = spec.assigner.eventTime;
  return {
    record: (record, ts) => {
      if (eventTime && ts === NO_TIMESTAMP) {
        throw userError(d, new TypeError('a record without a timestamp reached an event-time window: call assignTimestampsAndWatermarks(...) upstream, or use a processing-time window'));
      }
      backend.setCurrentKey(keyOf(record));
      (window as WindowOperator).processElement(record, ts);
    },
    watermark: (wm) => {
      timers.advanceWatermark(wm);
      next.watermark(wm);
    },
    status: next.status,
  };
}

/** Event-time tumbling and sliding windows with reduce or aggregate: on shared slices (sliced-windows.ts). */
function slicedWindowHandler(d: OperatorDescription, spec: WindowSpec, next: ChainHandler, parts: EventTimeParts): ChainHandler {
  const { backend, keyOf } = parts.keyed(1);
  const window = new SlicedWindowOperator(spec, backend, () => parts.processingTime.now(), { emit: next.record, emitSide: parts.side }, (err) => userError(d, err));
  let restored: readonly unknown[] = [];
  parts.addOperatorState(
    // Taken before the keyed backend is cut: it writes the live slices into keyed state.
    () => window.snapshot(),
    (states) => {
      restored = states;
    },
  );
  window.restore(restored);
  parts.addTimers(window);
  return {
    record: (record, ts) => {
      if (ts === NO_TIMESTAMP) {
        throw userError(d, new TypeError('a record without a timestamp reached an event-time window: call assignTimestampsAndWatermarks(...) upstream, or use a processing-time window'));
      }
      window.processElement(keyOf(record), record, ts);
    },
    watermark: (wm) => {
      window.advanceWatermark(wm);
      next.watermark(wm);
    },
    status: next.status,
  };
}

/** The context a process function sees: keyed state and timers (keyed only), timestamp, side outputs. */
class ContextImpl implements OnTimerContext<Key>, ReadOnlyBroadcastContext<Key>, BroadcastContext {
  ts = NO_TIMESTAMP;
  domain: TimeDomain = TimeDomain.EventTime;
  constructor(
    private readonly d: OperatorDescription,
    private readonly backend: HeapKeyedStateBackend | undefined,
    private readonly timers: InternalTimerService | undefined,
    private readonly parts: EventTimeParts,
    private readonly broadcast: BroadcastStates | undefined,
    private readonly writable: boolean,
  ) {}
  get currentKey(): Key {
    return this.keyedBackend().currentKey as Key;
  }
  getValueState<V>(name: string) {
    return this.keyedBackend().getValueState<V>(name);
  }
  getMapState<MK extends Key, V>(name: string) {
    return this.keyedBackend().getMapState<MK, V>(name);
  }
  timestamp(): number | undefined {
    return tsOrUndefined(this.ts);
  }
  timerService(): TimerService {
    if (this.timers === undefined) throw new InvalidJobGraphError(label(this.d), 'timers need a keyed stream: keyBy(...) before process(...)');
    return this.timers.serviceFor('');
  }
  output<X>(tag: OutputTag<X>, value: X): void {
    this.parts.side(tag.id, value, this.ts);
  }
  timeDomain(): 'event' | 'processing' {
    return this.domain;
  }
  getBroadcastState<BK extends Key, BV>(name: string): BroadcastState<BK, BV> {
    if (this.broadcast === undefined) throw new InvalidJobGraphError(label(this.d), 'broadcast state exists only in a broadcast process function');
    const state = this.broadcast.get<BK, BV>(name);
    if (this.writable) return state;
    const readOnly = (): never => {
      throw new TypeError(`broadcast state '${name}' is read only in processElement: change it in processBroadcastElement, so that it stays the same in every subtask`);
    };
    return { get: state.get, contains: state.contains, entries: state.entries, put: readOnly, remove: readOnly };
  }
  private keyedBackend(): HeapKeyedStateBackend {
    if (this.backend === undefined) throw new InvalidJobGraphError(label(this.d), 'keyed state needs a keyed stream: keyBy(...) first');
    return this.backend;
  }
}

interface TimedParts {
  backend: HeapKeyedStateBackend | undefined;
  keyOf: ((record: unknown) => Key) | undefined;
  keyOf2: ((record: unknown) => Key) | undefined;
  timers: InternalTimerService | undefined;
}

/** Keyed state and timers for a (co-)process operator; the timers call `onTimer` with the timer's key current. */
function timedParts(keyed: boolean, twoKeys: boolean, parts: EventTimeParts, onTimer: (t: FiredTimer) => void): TimedParts {
  if (!keyed) return { backend: undefined, keyOf: undefined, keyOf2: undefined, timers: undefined };
  const { backend, keyOf } = parts.keyed(1);
  const keyOf2 = twoKeys ? parts.keyed(2).keyOf : undefined;
  const timers = new InternalTimerService(backend, parts.processingTime, onTimer);
  timers.restore();
  parts.addTimers(timers);
  return { backend, keyOf, keyOf2, timers };
}

function timerCallback(
  d: OperatorDescription,
  fn: { onTimer?(timestamp: number, ctx: OnTimerContext<Key>, out: Collector<unknown>): void },
  ctx: () => ContextImpl,
  next: ChainHandler,
): (t: FiredTimer) => void {
  return (t) => {
    const onTimer = fn.onTimer;
    if (onTimer === undefined) return;
    const c = ctx();
    c.ts = t.domain === TimeDomain.EventTime ? t.timestamp : NO_TIMESTAMP;
    c.domain = t.domain;
    const out: Collector<unknown> = { collect: (r) => next.record(r, c.ts) };
    callUser(d, () => onTimer.call(fn, t.timestamp, c, out));
  };
}

function watermarkThrough(timers: InternalTimerService | undefined, next: ChainHandler): (wm: number) => void {
  if (timers === undefined) return next.watermark;
  return (wm) => {
    timers.advanceWatermark(wm);
    next.watermark(wm);
  };
}

function processHandler(d: OperatorDescription, fn: ProcessFunction<unknown, Key, unknown>, keyed: boolean, next: ChainHandler, parts: EventTimeParts): ChainHandler {
  let ctx: ContextImpl | undefined;
  const p = timedParts(keyed, false, parts, timerCallback(d, fn, () => ctx as ContextImpl, next));
  ctx = new ContextImpl(d, p.backend, p.timers, parts, undefined, false);
  const c = ctx;
  const out: Collector<unknown> = { collect: (r) => next.record(r, c.ts) };
  return {
    record: (record, ts) => {
      if (p.backend !== undefined && p.keyOf !== undefined) p.backend.setCurrentKey(p.keyOf(record));
      c.ts = ts;
      callUser(d, () => fn.processElement(record, c as ProcessContext<Key>, out));
    },
    watermark: watermarkThrough(p.timers, next),
    status: next.status,
  };
}

function coProcessHandler(d: OperatorDescription, fn: CoProcessFunction<unknown, unknown, Key, unknown>, keyed: boolean, next: ChainHandler, parts: EventTimeParts): ChainHandler {
  let ctx: ContextImpl | undefined;
  const p = timedParts(keyed, true, parts, timerCallback(d, fn, () => ctx as ContextImpl, next));
  ctx = new ContextImpl(d, p.backend, p.timers, parts, undefined, false);
  const c = ctx;
  const out: Collector<unknown> = { collect: (r) => next.record(r, c.ts) };
  return {
    record: (record, ts) => {
      if (p.backend !== undefined && p.keyOf !== undefined) p.backend.setCurrentKey(p.keyOf(record));
      c.ts = ts;
      callUser(d, () => fn.processElement1(record, c, out));
    },
    record2: (record, ts) => {
      if (p.backend !== undefined && p.keyOf2 !== undefined) p.backend.setCurrentKey(p.keyOf2(record));
      c.ts = ts;
      callUser(d, () => fn.processElement2(record, c, out));
    },
    watermark: watermarkThrough(p.timers, next),
    status: next.status,
  };
}

/**
 * Broadcast states by name: the same in every subtask, because every subtask sees every
 * broadcast record and only processBroadcastElement changes them. Operator state: a restored
 * subtask takes the states of old subtask (index mod old parallelism), as in Flink.
 */
class BroadcastStates {
  private readonly maps = new Map<string, Map<string, [Key, unknown]>>();

  get<BK extends Key, BV>(name: string): BroadcastState<BK, BV> {
    let map = this.maps.get(name);
    if (map === undefined) {
      map = new Map();
      this.maps.set(name, map);
    }
    const m = map;
    return {
      get: (k) => m.get(encodeKey(k))?.[1] as BV | undefined,
      contains: (k) => m.has(encodeKey(k)),
      *entries() {
        for (const [k, v] of m.values()) yield [k as BK, v as BV];
      },
      put: (k, v) => {
        m.set(encodeKey(k), [k, v]);
      },
      remove: (k) => {
        m.delete(encodeKey(k));
      },
    };
  }

  snapshot(): Record<string, [Key, unknown][]> {
    const out: Record<string, [Key, unknown][]> = {};
    for (const [name, m] of this.maps) out[name] = [...m.values()];
    return out;
  }

  restore(state: Record<string, [Key, unknown][]>): void {
    this.maps.clear();
    for (const [name, entries] of Object.entries(state)) this.maps.set(name, new Map(entries.map(([k, v]) => [encodeKey(k), [k, v] as [Key, unknown]])));
  }
}

function broadcastHandler(d: OperatorDescription, fn: BroadcastProcessFunction<unknown, unknown, Key, unknown>, keyed: boolean, next: ChainHandler, parts: EventTimeParts): ChainHandler {
  const states = new BroadcastStates();
  parts.addOperatorState(
    () => states.snapshot(),
    (old, index) => {
      const mine = old[index % old.length];
      if (mine !== undefined) states.restore(mine as Record<string, [Key, unknown][]>);
    },
  );
  let ctx: ContextImpl | undefined;
  const p = timedParts(keyed, false, parts, timerCallback(d, fn, () => ctx as ContextImpl, next));
  ctx = new ContextImpl(d, p.backend, p.timers, parts, states, false);
  const c = ctx;
  const bctx = new ContextImpl(d, undefined, undefined, parts, states, true);
  const out: Collector<unknown> = { collect: (r) => next.record(r, c.ts) };
  const bout: Collector<unknown> = { collect: (r) => next.record(r, bctx.ts) };
  return {
    record: (record, ts) => {
      if (p.backend !== undefined && p.keyOf !== undefined) p.backend.setCurrentKey(p.keyOf(record));
      c.ts = ts;
      callUser(d, () => fn.processElement(record, c, out));
    },
    record2: (record, ts) => {
      bctx.ts = ts;
      callUser(d, () => fn.processBroadcastElement(record, bctx, bout));
    },
    watermark: watermarkThrough(p.timers, next),
    status: next.status,
  };
}
