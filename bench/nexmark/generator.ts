/**
 * A deterministic generator of the Nexmark benchmark's events, after the rules of the Nexmark
 * generator used by Flink and Beam (an online auction: persons, auctions, bids):
 *
 * - Event ids 0, 1, 2, ... in epochs of 50: offset 0 is a person, 1-3 are auctions, 4-49 bids
 *   (proportions 1:3:46). Person and auction ids follow from the event id (first ids 1000).
 * - Event time: the event number times the inter-event delay (1e6 / firstEventRate µs) after a
 *   fixed base time; no reordering (an out-of-order group size of 1), so time never goes back.
 * - A bid is for a "hot" auction (the first of the last 100 auctions) with probability
 *   1 - 1/hotAuctionRatio, else for one of the auctions in flight (the last 100, plus 10 ahead);
 *   its bidder is hot (the second of the last 100 persons) with probability 1 - 1/hotBiddersRatio,
 *   else one of the last 1000 active persons (plus 10 ahead); an auction's seller likewise
 *   (hotSellersRatio, the first of the last 100 persons). Prices are 100 × 10^(6u).
 *
 * Every random choice of event i comes from a hash of (i, k), never from a shared generator,
 * so event i is the same whichever subtask, split or loop produces it: the job and the
 * single-threaded baseline see the same events. The spec's padding strings (`extra`, item
 * names and descriptions) are left out: no query here reads them.
 */

export interface NexmarkConfig {
  /** Events per second of event time (default 10,000: 100 µs apart). */
  readonly firstEventRate: number;
  readonly baseTimeMs: number;
  readonly hotAuctionRatio: number;
  readonly hotBiddersRatio: number;
  readonly hotSellersRatio: number;
  readonly numActivePeople: number;
  readonly numInFlightAuctions: number;
}

export const DEFAULT_CONFIG: NexmarkConfig = {
  firstEventRate: 10_000,
  // A fixed instant, not the clock: the same events in every run.
  baseTimeMs: Date.UTC(2026, 0, 1),
  hotAuctionRatio: 2,
  hotBiddersRatio: 4,
  hotSellersRatio: 4,
  numActivePeople: 1000,
  numInFlightAuctions: 100,
};

const PERSON_PROPORTION = 1;
const AUCTION_PROPORTION = 3;
const BID_PROPORTION = 46;
const TOTAL_PROPORTION = PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION;
export const FIRST_PERSON_ID = 1000;
export const FIRST_AUCTION_ID = 1000;
const FIRST_CATEGORY_ID = 10;
const NUM_CATEGORIES = 5;
/** Hot persons and auctions are the first (or second) of each batch of this many. */
const HOT_BATCH = 100;
const ID_LEAD = 10;

export interface Person {
  readonly kind: 'person';
  readonly id: number;
  readonly name: string;
  readonly city: string;
  readonly state: string;
  readonly dateTime: number;
}

export interface Auction {
  readonly kind: 'auction';
  readonly id: number;
  readonly initialBid: number;
  readonly reserve: number;
  readonly dateTime: number;
  readonly expires: number;
  readonly seller: number;
  readonly category: number;
}

export interface Bid {
  readonly kind: 'bid';
  readonly auction: number;
  readonly bidder: number;
  readonly price: number;
  readonly channel: string;
  readonly dateTime: number;
}

export type NexmarkEvent = Person | Auction | Bid;

const FIRST_NAMES = ['Peter', 'Paul', 'Luke', 'John', 'Saul', 'Vicky', 'Kate', 'Julie', 'Sarah', 'Deiter', 'Walter'];
const LAST_NAMES = ['Shultz', 'Abrams', 'Spencer', 'White', 'Bartels', 'Walton', 'Smith', 'Jones', 'Noris'];
const CITIES = ['Phoenix', 'Los Angeles', 'San Francisco', 'Boise', 'Portland', 'Bend', 'Redmond', 'Seattle', 'Kent', 'Cheyenne'];
const STATES = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY'];
const CHANNELS = ['Google', 'Facebook', 'Baidu', 'Apple'];

/** The k-th 32-bit random number of event i: a hash (murmur3's finalizer) of both. */
function random32(i: number, k: number): number {
  let h = Math.imul(i ^ Math.imul(k + 1, 0x9e3779b9), 0x85ebca6b) ^ Math.floor(i / 0x100000000);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform integer in [0, n) from the k-th random number of event i. */
function below(i: number, k: number, n: number): number {
  return random32(i, k) % n;
}

/** A uniform number in [0, 1). */
function unit(i: number, k: number): number {
  return random32(i, k) / 0x100000000;
}

function timestampOf(eventNumber: number, config: NexmarkConfig = DEFAULT_CONFIG): number {
  return config.baseTimeMs + Math.floor((eventNumber * (1_000_000 / config.firstEventRate)) / 1000);
}

/** The last person id (base 0) generated at or before event `id`. */
function lastBase0PersonId(id: number): number {
  const epoch = Math.floor(id / TOTAL_PROPORTION);
  const offset = Math.min(id % TOTAL_PROPORTION, PERSON_PROPORTION - 1);
  return epoch * PERSON_PROPORTION + offset;
}

/** The last auction id (base 0) generated at or before event `id`. */
function lastBase0AuctionId(id: number): number {
  let epoch = Math.floor(id / TOTAL_PROPORTION);
  let offset = id % TOTAL_PROPORTION;
  if (offset < PERSON_PROPORTION) {
    epoch--;
    offset = AUCTION_PROPORTION - 1;
  } else if (offset >= PERSON_PROPORTION + AUCTION_PROPORTION) {
    offset = AUCTION_PROPORTION - 1;
  } else {
    offset -= PERSON_PROPORTION;
  }
  return epoch * AUCTION_PROPORTION + offset;
}

/** One of the active persons, or a few not created yet (base 0). */
function randomPerson(id: number, k: number, config: NexmarkConfig): number {
  const people = lastBase0PersonId(id) + 1;
  const active = Math.min(people, config.numActivePeople);
  return people - active + below(id, k, active + ID_LEAD);
}

function randomAuction(id: number, k: number, config: NexmarkConfig): number {
  const last = lastBase0AuctionId(id);
  const min = Math.max(last - config.numInFlightAuctions, 0);
  return min + below(id, k, last - min + 1 + ID_LEAD);
}

function price(id: number, k: number): number {
  return Math.floor(Math.pow(10, unit(id, k) * 6)) * 100;
}

/** Event `id` (0-based) of the stream. */
export function eventAt(id: number, config: NexmarkConfig = DEFAULT_CONFIG): NexmarkEvent {
  const dateTime = timestampOf(id, config);
  const offset = id % TOTAL_PROPORTION;
  if (offset < PERSON_PROPORTION) {
    return {
      kind: 'person',
      id: lastBase0PersonId(id) + FIRST_PERSON_ID,
      name: `${FIRST_NAMES[below(id, 0, FIRST_NAMES.length)]} ${LAST_NAMES[below(id, 1, LAST_NAMES.length)]}`,
      city: CITIES[below(id, 2, CITIES.length)]!,
      state: STATES[below(id, 3, STATES.length)]!,
      dateTime,
    };
  }
  if (offset < PERSON_PROPORTION + AUCTION_PROPORTION) {
    const seller = below(id, 0, config.hotSellersRatio) > 0 ? Math.floor(lastBase0PersonId(id) / HOT_BATCH) * HOT_BATCH : randomPerson(id, 1, config);
    const initialBid = price(id, 2);
    // Auctions last around the time until numInFlightAuctions more are created.
    const horizonMs = timestampOf(id + Math.floor((config.numInFlightAuctions * TOTAL_PROPORTION) / AUCTION_PROPORTION), config) - dateTime;
    return {
      kind: 'auction',
      id: lastBase0AuctionId(id) + FIRST_AUCTION_ID,
      initialBid,
      reserve: initialBid + price(id, 3),
      dateTime,
      expires: dateTime + 1 + below(id, 4, Math.max(horizonMs * 2, 1)),
      seller: seller + FIRST_PERSON_ID,
      category: FIRST_CATEGORY_ID + below(id, 5, NUM_CATEGORIES),
    };
  }
  const auction = below(id, 0, config.hotAuctionRatio) > 0 ? Math.floor(lastBase0AuctionId(id) / HOT_BATCH) * HOT_BATCH : randomAuction(id, 1, config);
  const bidder = below(id, 2, config.hotBiddersRatio) > 0 ? Math.floor(lastBase0PersonId(id) / HOT_BATCH) * HOT_BATCH + 1 : randomPerson(id, 3, config);
  return {
    kind: 'bid',
    auction: auction + FIRST_AUCTION_ID,
    bidder: bidder + FIRST_PERSON_ID,
    price: price(id, 4),
    channel: CHANNELS[below(id, 5, CHANNELS.length)]!,
    dateTime,
  };
}
