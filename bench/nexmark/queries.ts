/**
 * The Nexmark queries, as per-record functions shared by the job (bench/jobs/nexmark.ts) and the
 * single-threaded loops that are their baselines, and the loops themselves.
 *
 * - q1 (currency conversion): every bid, its price in euros (× 0.908).
 * - q2 (selection): the bids of auctions whose id is a multiple of 123.
 * - q5 (hot items): per sliding window (10 s, every 2 s) of bid times, the auctions with the
 *   most bids (all of them on a tie, as the query's join on `num >= maxn`).
 * - q8 (monitor new users): persons who created an auction in the same tumbling window (10 s)
 *   in which they registered; one line per person and window.
 *
 * Results are text lines (what the job's file sink writes); the loops write theirs the same
 * way, 64 KB at a time, so both produce the same files and the comparison is of equals.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { eventAt, type Bid, type NexmarkEvent } from './generator.js';

export const Q2_AUCTION_MODULUS = 123;
export const Q5_SIZE_MS = 10_000;
export const Q5_SLIDE_MS = 2_000;
export const Q8_SIZE_MS = 10_000;

export function isBid(e: NexmarkEvent): e is Bid {
  return e.kind === 'bid';
}

export function q1Line(bid: Bid): string {
  return `${bid.auction},${bid.bidder},${bid.price * 0.908},${bid.dateTime}`;
}

export function q2Selects(bid: Bid): boolean {
  return bid.auction % Q2_AUCTION_MODULUS === 0;
}

export function q2Line(bid: Bid): string {
  return `${bid.auction},${bid.price}`;
}

const CHUNK_CHARS = 64 * 1024;

/** Lines into a file, batched as the job's text sink batches them. */
class LineFile {
  private readonly fd: number;
  private text = '';
  constructor(file: string) {
    this.fd = openSync(file, 'w', 0o600);
  }
  write(line: string): void {
    this.text += line + '\n';
    if (this.text.length >= CHUNK_CHARS) this.flush();
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
  private flush(): void {
    if (this.text.length > 0) writeSync(this.fd, this.text);
    this.text = '';
  }
}

/** q1 over events 0..events-1 into `file`. */
export function q1Loop(events: number, file: string): void {
  const out = new LineFile(file);
  for (let i = 0; i < events; i++) {
    const e = eventAt(i);
    if (isBid(e)) out.write(q1Line(e));
  }
  out.close();
}

export function q2Loop(events: number, file: string): void {
  const out = new LineFile(file);
  for (let i = 0; i < events; i++) {
    const e = eventAt(i);
    if (isBid(e) && q2Selects(e)) out.write(q2Line(e));
  }
  out.close();
}

/** q5's first step: the bids of one auction in one sliding window (a tuple: cheaper to ship than an object). */
export type AuctionCount = readonly [start: number, auction: number, count: number];

/** q5's result lines for one window: `windowStart,auction,count` for its auctions with the most bids. */
export function q5Lines(counts: readonly AuctionCount[]): string[] {
  let max = 0;
  for (const c of counts) if (c[2] > max) max = c[2];
  return counts.filter((c) => c[2] === max).map(([start, auction, count]) => `${start},${auction},${count}`);
}

/** q8's result line. */
export function q8Line(person: number, name: string, windowStart: number): string {
  return `${person},${name},${windowStart}`;
}

/** q5: `windowStart,auction,count` for the auctions with the most bids of each sliding window. */
export function q5Loop(events: number, file: string): void {
  const out = new LineFile(file);
  const windows = new Map<number, Map<number, number>>();
  const close = (upTo: number) => {
    for (const [start, counts] of windows) {
      if (start + Q5_SIZE_MS > upTo) continue;
      const all: AuctionCount[] = [];
      for (const [auction, count] of counts) all.push([start, auction, count]);
      for (const line of q5Lines(all)) out.write(line);
      windows.delete(start);
    }
  };
  let lastClosed = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < events; i++) {
    const e = eventAt(i);
    // Event time never goes back: every window that ended before this event is complete.
    if (e.dateTime - Q5_SLIDE_MS >= lastClosed) {
      close(e.dateTime);
      lastClosed = e.dateTime;
    }
    if (!isBid(e)) continue;
    const lastStart = e.dateTime - (e.dateTime % Q5_SLIDE_MS);
    for (let start = lastStart; start > e.dateTime - Q5_SIZE_MS; start -= Q5_SLIDE_MS) {
      let counts = windows.get(start);
      if (counts === undefined) windows.set(start, (counts = new Map()));
      counts.set(e.auction, (counts.get(e.auction) ?? 0) + 1);
    }
  }
  close(Number.POSITIVE_INFINITY);
  out.close();
}

/** q8: `person,name,windowStart` for persons who registered and sold in the same tumbling window. */
export function q8Loop(events: number, file: string): void {
  const out = new LineFile(file);
  let windowStart = Number.NaN;
  let persons = new Map<number, string>();
  let sellers = new Set<number>();
  const close = () => {
    for (const [id, name] of persons) if (sellers.has(id)) out.write(q8Line(id, name, windowStart));
    persons = new Map();
    sellers = new Set();
  };
  for (let i = 0; i < events; i++) {
    const e = eventAt(i);
    const start = e.dateTime - (e.dateTime % Q8_SIZE_MS);
    if (start !== windowStart) {
      if (!Number.isNaN(windowStart)) close();
      windowStart = start;
    }
    if (e.kind === 'person') persons.set(e.id, e.name);
    else if (e.kind === 'auction') sellers.add(e.seller);
  }
  if (!Number.isNaN(windowStart)) close();
  out.close();
}
