/**
 * Joins of two streams, built from the operators that exist (as Flink builds them):
 *
 * - a window join (`a.join(b).where(ka).equalTo(kb).window(assigner).apply(fn)`) tags each
 *   side, unions them, keys both by their join key and cross-joins each window's elements;
 * - an interval join (`a.keyBy(k).intervalJoin(b.keyBy(k)).between(lower, upper).process(fn)`)
 *   is a keyed co-process that buffers each side in keyed state by timestamp, joins a record
 *   with the other side's records in `[ts + lower, ts + upper]` (seen from the left), and
 *   drops buffered records with event-time timers once no partner can arrive any more.
 *
 * Both need event time on both inputs (assignTimestampsAndWatermarks upstream).
 */
import type { DataStream, KeyedStream, SingleOutputStream } from './environment.js';
import { InvalidJobGraphError } from './errors.js';
import type { Collector, KeySelector, ProcessContext } from './functions.js';
import type { Key } from './keyhash.js';
import type { WindowAssigner } from './windows.js';

type Tagged = readonly [1, unknown] | readonly [2, unknown];

/** `a.join(b)`: name the keys and the window, then `apply`. */
export class JoinedStreams<A, B> {
  // The streams are held with their types erased, so that DataStream<T> stays assignable as T varies (its `join` returns this).
  /** @internal */
  constructor(
    private readonly first: DataStream<unknown>,
    private readonly second: DataStream<unknown>,
  ) {}

  where<K extends Key>(key1: KeySelector<A, K>): { equalTo(key2: KeySelector<B, K>): { window(assigner: WindowAssigner): WindowJoin<A, B, K> } } {
    return {
      equalTo: (key2) => ({
        window: (assigner) => new WindowJoin<A, B, K>(this.first, this.second, key1 as KeySelector<unknown, K>, key2 as KeySelector<unknown, K>, assigner),
      }),
    };
  }
}

export class WindowJoin<A, B, K extends Key> {
  /** @internal */
  constructor(
    private readonly first: DataStream<unknown>,
    private readonly second: DataStream<unknown>,
    private readonly key1: KeySelector<unknown, K>,
    private readonly key2: KeySelector<unknown, K>,
    private readonly assigner: WindowAssigner,
  ) {}

  /** `fn(a, b)` for every pair of records with equal keys in the same window. */
  apply<O>(fn: (a: A, b: B) => O): SingleOutputStream<O> {
    const key1 = this.key1;
    const key2 = this.key2;
    const left = this.first.map((v): Tagged => [1, v]).name('Join: left');
    const right = this.second.map((v): Tagged => [2, v]).name('Join: right');
    return left
      .union(right)
      .keyBy((t) => (t[0] === 1 ? key1(t[1]) : key2(t[1])))
      .window(this.assigner)
      .process<O>((_key, _ctx, items, out) => {
        const as = items.filter((t) => t[0] === 1);
        const bs = items.filter((t) => t[0] === 2);
        for (const a of as) for (const b of bs) out.collect(fn(a[1] as A, b[1] as B));
      })
      .name('Window Join');
  }
}

/** What an interval join's function gets besides the pair. */
export interface IntervalJoinContext {
  readonly leftTimestamp: number;
  readonly rightTimestamp: number;
}

export class IntervalJoin<A, B, K extends Key> {
  /** @internal */
  constructor(
    private readonly left: KeyedStream<unknown, K>,
    private readonly right: KeyedStream<unknown, K>,
  ) {}

  /** Joins a left record at t with the right records in [t + lowerMs, t + upperMs] (inclusive). */
  between(lowerMs: number, upperMs: number): { process<O>(fn: (a: A, b: B, ctx: IntervalJoinContext, out: Collector<O>) => void): SingleOutputStream<O> } {
    if (!Number.isFinite(lowerMs) || !Number.isFinite(upperMs) || lowerMs > upperMs) {
      throw new InvalidJobGraphError(undefined, `interval join bounds must be finite with lower <= upper, got [${lowerMs}, ${upperMs}]`);
    }
    return { process: (fn) => this.build(lowerMs, upperMs, fn) };
  }

  private build<O>(lower: number, upper: number, fn: (a: A, b: B, ctx: IntervalJoinContext, out: Collector<O>) => void): SingleOutputStream<O> {
    // When a buffered record can go: no partner can arrive once the watermark passes these.
    const leftCleanup = (ts: number): number => ts + Math.max(upper, 0);
    const rightCleanup = (ts: number): number => ts - Math.min(lower, 0);
    const timestampOf = (ctx: ProcessContext<K>): number => {
      const ts = ctx.timestamp();
      if (ts === undefined) throw new TypeError('an interval join needs timestamps on both inputs: call assignTimestampsAndWatermarks(...) upstream');
      return ts;
    };
    /** Adds the record to its side's buffer (by timestamp), unless it is late; false when late. */
    const buffer = <V>(ctx: ProcessContext<K>, side: string, value: V, ts: number, cleanup: number): boolean => {
      const timers = ctx.timerService();
      if (ts <= timers.currentWatermark()) return false; // late: its partners may be gone (Flink drops it too)
      const state = ctx.getMapState<number, V[]>(side);
      state.put(ts, [...(state.get(ts) ?? []), value]);
      timers.registerEventTimeTimer(cleanup);
      return true;
    };
    return this.left
      .connect(this.right)
      .process<O>({
        processElement1(value, ctx, out) {
          const a = value as A;
          const ts = timestampOf(ctx);
          if (!buffer(ctx, 'left', a, ts, leftCleanup(ts))) return;
          for (const [rts, bs] of ctx.getMapState<number, B[]>('right').entries()) {
            if (rts < ts + lower || rts > ts + upper) continue;
            for (const b of bs) fn(a, b, { leftTimestamp: ts, rightTimestamp: rts }, out);
          }
        },
        processElement2(value, ctx, out) {
          const b = value as B;
          const ts = timestampOf(ctx);
          if (!buffer(ctx, 'right', b, ts, rightCleanup(ts))) return;
          for (const [lts, as] of ctx.getMapState<number, A[]>('left').entries()) {
            if (ts < lts + lower || ts > lts + upper) continue;
            for (const a of as) fn(a, b, { leftTimestamp: lts, rightTimestamp: ts }, out);
          }
        },
        onTimer(time, ctx) {
          for (const [side, cleanup] of [['left', leftCleanup], ['right', rightCleanup]] as const) {
            const state = ctx.getMapState<number, unknown[]>(side);
            for (const ts of [...state.keys()]) if (cleanup(ts) <= time) state.remove(ts);
          }
        },
      })
      .name('Interval Join');
  }
}
