import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CONFIG, eventAt, FIRST_AUCTION_ID, FIRST_PERSON_ID, type NexmarkEvent } from '../../../bench/nexmark/generator.js';
import { q5Loop, q8Loop, Q5_SIZE_MS, Q5_SLIDE_MS, Q8_SIZE_MS } from '../../../bench/nexmark/queries.js';
import { useTempDirs } from '../../support/temp-dirs.js';

const events = (n: number): NexmarkEvent[] => Array.from({ length: n }, (_, i) => eventAt(i));
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').sort();

describe('bench - nexmark generator and loop baselines', () => {
  const tempDir = useTempDirs();

  it('nexmark - persons, auctions and bids in proportions 1:3:46, with ids and times as the spec derives them', () => {
    const all = events(5000);
    const kinds = { person: 0, auction: 0, bid: 0 };
    for (const e of all) kinds[e.kind]++;
    assert.deepEqual(kinds, { person: 100, auction: 300, bid: 4600 });
    const persons = all.filter((e) => e.kind === 'person');
    const auctions = all.filter((e) => e.kind === 'auction');
    assert.deepEqual(persons.map((p) => p.id), Array.from({ length: 100 }, (_, i) => FIRST_PERSON_ID + i));
    assert.deepEqual(auctions.map((a) => a.id), Array.from({ length: 300 }, (_, i) => FIRST_AUCTION_ID + i));
    // 10,000 events per second of event time: 100 µs apart, never going back.
    assert.equal(all[0]!.dateTime, DEFAULT_CONFIG.baseTimeMs);
    assert.equal(all[4999]!.dateTime, DEFAULT_CONFIG.baseTimeMs + 499);
    assert.ok(all.every((e, i) => i === 0 || e.dateTime >= all[i - 1]!.dateTime));
    // Bids are for auctions and by persons that exist (or a few ids ahead); half go to hot auctions.
    const bids = all.filter((e) => e.kind === 'bid');
    assert.ok(bids.every((b) => b.auction >= FIRST_AUCTION_ID && b.auction < FIRST_AUCTION_ID + 300 + 10 && b.price >= 100));
    const hot = bids.filter((b) => (b.auction - FIRST_AUCTION_ID) % 100 === 0).length / bids.length;
    assert.ok(hot > 0.45 && hot < 0.65, `share of bids for hot auctions: ${hot}`);
    assert.deepEqual(events(50), events(50), 'the same events every time');
  });

  it('nexmark - the q5 and q8 loops agree with a brute-force count over the same events', () => {
    const n = 120_000; // 12 s of event time: q5 windows that overlap the start, the middle and the end
    const all = events(n);
    const dir = tempDir('nexmark');
    q5Loop(n, path.join(dir, 'q5'));
    const expected5: string[] = [];
    const last = all[n - 1]!.dateTime;
    for (let start = DEFAULT_CONFIG.baseTimeMs - Q5_SIZE_MS + Q5_SLIDE_MS; start <= last; start += Q5_SLIDE_MS) {
      const counts = new Map<number, number>();
      for (const e of all) if (e.kind === 'bid' && e.dateTime >= start && e.dateTime < start + Q5_SIZE_MS) counts.set(e.auction, (counts.get(e.auction) ?? 0) + 1);
      const max = Math.max(0, ...counts.values());
      for (const [auction, c] of counts) if (c === max) expected5.push(`${start},${auction},${c}`);
    }
    assert.deepEqual(lines(path.join(dir, 'q5')), expected5.sort());

    q8Loop(n, path.join(dir, 'q8'));
    const expected8 = new Set<string>();
    const auctions = all.filter((e) => e.kind === 'auction');
    for (const p of all) {
      if (p.kind !== 'person') continue;
      const start = p.dateTime - (p.dateTime % Q8_SIZE_MS);
      if (auctions.some((a) => a.seller === p.id && a.dateTime - (a.dateTime % Q8_SIZE_MS) === start)) expected8.add(`${p.id},${p.name},${start}`);
    }
    assert.ok(expected8.size > 0);
    assert.deepEqual(lines(path.join(dir, 'q8')), [...expected8].sort());
  });
});
