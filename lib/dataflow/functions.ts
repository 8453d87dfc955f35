/**
 * The shapes of user functions. Plain functions rather than Flink's interfaces-with-classes:
 * a job module is evaluated again inside each task, so the functions come back by operator id
 * and never need to be serialized.
 */
import type { Key } from './keyhash.js';
import type { OutputTag } from './side-outputs.js';
import type { MapState, ValueState } from './state.js';
import type { TimerService } from './timers.js';

export type MapFunction<T, O> = (value: T) => O;
export type FilterFunction<T> = (value: T) => boolean;
/** Returns the records to emit for one input: an array, a Set, a generator... */
export type FlatMapFunction<T, O> = (value: T) => Iterable<O>;
/** Combines the current aggregate of a key with the key's next record. */
export type ReduceFunction<T> = (accumulator: T, value: T) => T;
export type KeySelector<T, K extends Key> = (value: T) => K;

/** Where a function emits its records. */
export interface Collector<O> {
  collect(record: O): void;
}

/** What a keyed process function sees besides the record: its key and the key's state. */
export interface KeyedContext<K extends Key> {
  /** The key of the record being processed. */
  readonly currentKey: K;
  /** A value per key, scoped to this operator. Same name, same state across calls. */
  getValueState<V>(name: string): ValueState<V>;
  /** A map per key, scoped to this operator. */
  getMapState<MK extends Key, V>(name: string): MapState<MK, V>;
}

/** Flink's KeyedProcessFunction#processElement as a plain function. */
export type KeyedProcessFunction<T, K extends Key, O> = (value: T, ctx: KeyedContext<K>, out: Collector<O>) => void;

/** What a process function with timers sees for each record (Flink's ProcessFunction.Context). */
export interface ProcessContext<K extends Key> extends KeyedContext<K> {
  /** The record's event time, or undefined when it has none. */
  timestamp(): number | undefined;
  /** Timers for the current key (keyed streams only). */
  timerService(): TimerService;
  /** Emits `value` to the side output `tag` (read it with `getSideOutput(tag)`). */
  output<X>(tag: OutputTag<X>, value: X): void;
}

/** What `onTimer` sees: the context of the timer's key, and which clock fired it. */
export interface OnTimerContext<K extends Key> extends ProcessContext<K> {
  timeDomain(): 'event' | 'processing';
}

/**
 * Flink's (Keyed)ProcessFunction in object form: `processElement` for each record and, for
 * keyed streams, `onTimer` when a timer of the record's key fires (once per registered time).
 * Records emitted by `onTimer` carry the timer's time (event time) or no timestamp.
 */
export interface ProcessFunction<T, K extends Key, O> {
  processElement(value: T, ctx: ProcessContext<K>, out: Collector<O>): void;
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<O>): void;
}

/** Flink's (Keyed)CoProcessFunction: one method per input of connected streams. */
export interface CoProcessFunction<A, B, K extends Key, O> {
  processElement1(value: A, ctx: ProcessContext<K>, out: Collector<O>): void;
  processElement2(value: B, ctx: ProcessContext<K>, out: Collector<O>): void;
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<O>): void;
}

/** The broadcast state as the non-broadcast side sees it: read only (it must stay equal in every subtask). */
export interface ReadOnlyBroadcastState<BK extends Key, BV> {
  get(key: BK): BV | undefined;
  contains(key: BK): boolean;
  entries(): IterableIterator<[BK, BV]>;
}

/** The broadcast state as the broadcast side sees it. */
export interface BroadcastState<BK extends Key, BV> extends ReadOnlyBroadcastState<BK, BV> {
  put(key: BK, value: BV): void;
  remove(key: BK): void;
}

export interface ReadOnlyBroadcastContext<K extends Key> extends ProcessContext<K> {
  getBroadcastState<BK extends Key, BV>(name: string): ReadOnlyBroadcastState<BK, BV>;
}

export interface BroadcastContext {
  getBroadcastState<BK extends Key, BV>(name: string): BroadcastState<BK, BV>;
  timestamp(): number | undefined;
  output<X>(tag: OutputTag<X>, value: X): void;
}

/**
 * Flink's (Keyed)BroadcastProcessFunction: `processBroadcastElement` sees every record of the
 * broadcast stream in every subtask and may change the broadcast state; `processElement` sees
 * the records of the other stream and reads the broadcast state (and keyed state when keyed).
 */
export interface BroadcastProcessFunction<T, B, K extends Key, O> {
  processElement(value: T, ctx: ReadOnlyBroadcastContext<K>, out: Collector<O>): void;
  processBroadcastElement(value: B, ctx: BroadcastContext, out: Collector<O>): void;
  onTimer?(timestamp: number, ctx: OnTimerContext<K> & ReadOnlyBroadcastContext<K>, out: Collector<O>): void;
}

/** Produces the `index`-th record of a generator source. */
export type GeneratorFunction<T> = (index: number) => T;
