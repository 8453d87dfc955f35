/**
 * The shapes of user functions. Plain functions rather than Flink's interfaces-with-classes:
 * a job module is evaluated again inside each task, so the functions come back by operator id
 * and never need to be serialized.
 */
import type { Key } from './keyhash.js';
import type { MapState, ValueState } from './state.js';

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

/** Produces the `index`-th record of a generator source. */
export type GeneratorFunction<T> = (index: number) => T;
