/**
 * A Nexmark query as a job (bench/nexmark.ts runs it): the generator's events as a split
 * generator source, the query's per-record functions, the results into text files (one per
 * subtask). It imports the generator and the queries, which the client bundles with it.
 * Args: `query` (q1, q2, q5 or q8), `events`, `output` (a directory).
 *
 * Event time is the events' `dateTime`: each subtask reads its splits in ascending event
 * order, so its timestamps are monotonous, and the windows' watermark is the least of them.
 */
import type { DataStream, StreamEnvironment } from 'flinkish';
import { SlidingEventTimeWindows, TumblingEventTimeWindows, WatermarkStrategy } from 'flinkish';
import { eventAt, type Auction, type Bid, type NexmarkEvent, type Person } from '../nexmark/generator.js';
import { isBid, q1Line, q2Line, q2Selects, q5Lines, q8Line, Q5_SIZE_MS, Q5_SLIDE_MS, Q8_SIZE_MS, type AuctionCount } from '../nexmark/queries.js';

/** Counts a window's records (an AggregateFunction). */
const count = {
  createAccumulator: (): number => 0,
  add: (_value: unknown, n: number): number => n + 1,
  getResult: (n: number): number => n,
  merge: (a: number, b: number): number => a + b,
};

/** The most bids of one auction in a window so far, and the counts of the auctions with that many. */
type Hottest = readonly [max: number, counts: readonly AuctionCount[]];

/**
 * Keeps a window's auctions with the most bids as they come (an AggregateFunction), instead of
 * all of them: an accumulator is a new value whenever it changes, never changed in place.
 */
const hottest = {
  createAccumulator: (): Hottest => [0, []],
  add: (c: AuctionCount, acc: Hottest): Hottest => (c[2] < acc[0] ? acc : c[2] > acc[0] ? [c[2], [c]] : [acc[0], [...acc[1], c]]),
  getResult: (acc: Hottest): Hottest => acc,
};

function byEventTime<T extends { dateTime: number }>(): WatermarkStrategy<T> {
  return WatermarkStrategy.forMonotonousTimestamps<T>().withTimestampAssigner((e) => e.dateTime);
}

export default function nexmark(env: StreamEnvironment): void {
  const query = String(env.args['query'] ?? 'q1');
  const events = Number(env.args['events'] ?? 1_000_000);
  const output = String(env.args['output'] ?? '');
  if (!output) throw new Error('nexmark needs --arg output=<directory>');
  const all = env.fromGenerator<NexmarkEvent>(eventAt, events).name('nexmark events');
  // The filters are type guards that the API's filter cannot express.
  const bids = (): DataStream<Bid> => all.filter(isBid).name('bids') as unknown as DataStream<Bid>;
  switch (query) {
    case 'q1':
      bids().map(q1Line).name('q1: price in euros').writeAsText(output).name('q1 results');
      return;
    case 'q2':
      bids().filter(q2Selects).name('q2: auction % 123 = 0').map(q2Line).writeAsText(output).name('q2 results');
      return;
    case 'q5':
      // Bids per auction and sliding window, then per window (all its counts end at the same
      // time, so they share the tumbling window of one slide) the auctions with the most,
      // kept incrementally.
      bids()
        .assignTimestampsAndWatermarks(byEventTime<Bid>())
        .map((b) => b.auction) // all the query reads of a bid besides its time (which travels with it)
        .name('q5: auction of the bid')
        .keyBy((auction) => auction)
        .window(SlidingEventTimeWindows.of(Q5_SIZE_MS, Q5_SLIDE_MS))
        .aggregate<number, number, AuctionCount>(count, (auction, ctx, [n], out) => out.collect([ctx.window.start, auction, n as number]))
        .name('q5: bids per auction and window')
        .keyBy((c: AuctionCount) => c[0])
        .window(TumblingEventTimeWindows.of(Q5_SLIDE_MS))
        .aggregate<Hottest, Hottest, string>(hottest, (_start, _ctx, [h], out) => {
          for (const line of q5Lines((h as Hottest)[1])) out.collect(line);
        })
        .name('q5: hottest auctions per window')
        .writeAsText(output)
        .name('q5 results');
      return;
    case 'q8': {
      // As the query: persons per window joined with the sellers of auctions per window (each
      // seller once per window, as the query's GROUP BY seller), on id = seller.
      // Bids dropped in the source's chain: only persons and auctions are shipped to the two filters.
      const timed = all
        .filter((e) => e.kind !== 'bid')
        .name('persons and auctions')
        .assignTimestampsAndWatermarks(byEventTime<NexmarkEvent>());
      const persons = timed.filter((e) => e.kind === 'person').name('persons') as unknown as DataStream<Person>;
      const sellers = (timed.filter((e) => e.kind === 'auction').name('auctions') as unknown as DataStream<Auction>)
        .keyBy((a) => a.seller)
        .window(TumblingEventTimeWindows.of(Q8_SIZE_MS))
        .reduce((a) => a)
        .name('q8: sellers per window');
      persons
        .join(sellers)
        .where((p) => p.id)
        .equalTo((a) => a.seller)
        .window(TumblingEventTimeWindows.of(Q8_SIZE_MS))
        .apply((p) => q8Line(p.id, p.name, p.dateTime - (p.dateTime % Q8_SIZE_MS)))
        .writeAsText(output)
        .name('q8 results');
      return;
    }
    default:
      throw new Error(`nexmark: unknown query '${query}' (this job runs q1, q2, q5 and q8)`);
  }
}
