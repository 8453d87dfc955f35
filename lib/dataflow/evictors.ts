/**
 * Evictors (Flink's Evictor): a window with one keeps every record with its timestamp, and
 * before and/or after its function runs the evictor says which records stay. Evicted records
 * leave the window's state: a window that fires again (a late record within the lateness, a
 * trigger firing early) sees only what stayed.
 *
 * @example
 * keyed.window(SlidingEventTimeWindows.of(60_000, 10_000)).evictor(CountEvictor.of(100)).process(...)
 */
import { InvalidJobGraphError } from './errors.js';
import { NO_TIMESTAMP } from './watermarks.js';
import type { ProcessWindowContext } from './windows.js';

/** A record of a window with its timestamp (NO_TIMESTAMP in a processing-time job without one). */
export interface TimestampedValue<T = unknown> {
  readonly value: T;
  readonly timestamp: number;
}

/** The window and the times, as a process window function sees them. */
export type EvictorContext = ProcessWindowContext;

/** Returns the records to keep, in their order. Either hook may be left out. */
export interface Evictor {
  evictBefore?(records: readonly TimestampedValue[], ctx: EvictorContext): readonly TimestampedValue[];
  evictAfter?(records: readonly TimestampedValue[], ctx: EvictorContext): readonly TimestampedValue[];
}

/** Which side of the window function an evictor acts on: before it by default (as Flink). */
function onSide(evict: (records: readonly TimestampedValue[]) => readonly TimestampedValue[], after: boolean): Evictor {
  return after ? { evictAfter: evict } : { evictBefore: evict };
}

/** Keeps the last `max` records a window received (Flink's CountEvictor). */
export const CountEvictor = {
  of(max: number, doEvictAfter = false): Evictor {
    if (!Number.isInteger(max) || max < 1) throw new InvalidJobGraphError(undefined, `CountEvictor needs a count >= 1, got ${max}`);
    return onSide((records) => (records.length <= max ? records : records.slice(records.length - max)), doEvictAfter);
  },
};

/**
 * Keeps the records within `ms` of the window's newest timestamp: those at or before
 * (newest - ms) go (Flink's TimeEvictor). Records without timestamps are all kept.
 */
export const TimeEvictor = {
  of(ms: number, doEvictAfter = false): Evictor {
    if (!Number.isFinite(ms) || ms < 0) throw new InvalidJobGraphError(undefined, `TimeEvictor needs a duration >= 0 ms, got ${ms}`);
    return onSide((records) => {
      let newest = NO_TIMESTAMP;
      for (const r of records) if (r.timestamp > newest) newest = r.timestamp;
      if (newest === NO_TIMESTAMP) return records;
      const cutoff = newest - ms;
      return records.filter((r) => r.timestamp > cutoff);
    }, doEvictAfter);
  },
};

/** Keeps the records whose `delta` to the window's last record is below `threshold` (Flink's DeltaEvictor). */
export const DeltaEvictor = {
  of<T>(threshold: number, delta: (record: T, last: T) => number, doEvictAfter = false): Evictor {
    if (!Number.isFinite(threshold)) throw new InvalidJobGraphError(undefined, `DeltaEvictor needs a finite threshold, got ${threshold}`);
    return onSide((records) => {
      const last = records.at(-1);
      if (last === undefined) return records;
      return records.filter((r) => delta(r.value as T, last.value as T) < threshold);
    }, doEvictAfter);
  },
};
