import assert from 'node:assert/strict';
import { RecordDeserializer, RecordSerializer, type NetworkBuffer } from '../../../lib/network/buffer.js';
import { Packr } from 'msgpackr';
import { NO_TIMESTAMP } from '../../../lib/dataflow/watermarks.js';
import { InputGate } from '../../../lib/network/input-gate.js';
import { ResultPartition, type PartitionSender } from '../../../lib/network/result-partition.js';

/** Records what a partition sends. */
class TestingSender implements PartitionSender {
  readonly sent: { ch: string; buffer: NetworkBuffer; backlog: number }[] = [];
  readonly ended: string[] = [];
  sendBuffer(ch: string, buffer: NetworkBuffer, backlog: number): void {
    this.sent.push({ ch, buffer, backlog });
  }
  sendEndOfPartition(ch: string): void {
    this.ended.push(ch);
  }
  sendBarrier(): void {
    // barriers are covered by barriers.test.ts
  }
}

function partition(channels: string[], sender: PartitionSender, selector = () => 0) {
  return new ResultPartition(channels, selector, new RecordSerializer(), sender, { bufferBytes: 64, maxBacklog: 1 });
}

const decode = (b: NetworkBuffer): unknown[] => {
  const out: unknown[] = [];
  new RecordDeserializer().forEach(b.data, b.length, (r) => out.push(r));
  return out;
};

describe('network - credit-based flow control', () => {
  it('network - a sender without credit sends nothing and becomes unavailable past its backlog', () => {
    const sender = new TestingSender();
    const p = partition(['c0'], sender);
    for (let i = 0; i < 30; i++) p.emit(`record-${i}`); // ~9 bytes each: 7 per 64-byte buffer
    assert.equal(sender.sent.length, 0, 'no credit, nothing sent');
    assert.equal(p.isAvailable(), false, 'more than maxBacklog buffers waiting');
  });

  it('network - a sender resumes on credit, one buffer per credit, announcing its backlog', () => {
    const sender = new TestingSender();
    const p = partition(['c0'], sender);
    for (let i = 0; i < 60; i++) p.emit(100_000 + i); // 5 bytes each: 12 per 64-byte buffer
    const queued = (p.subpartitions[0] as { backlog: number }).backlog;
    assert.ok(queued >= 2);
    p.subpartition('c0')?.addCredit(1);
    assert.equal(sender.sent.length, 1);
    assert.equal(sender.sent[0]?.backlog, queued - 1);
    p.subpartition('c0')?.addCredit(100);
    assert.equal(sender.sent.length, queued);
    assert.equal(p.isAvailable(), true);
    assert.equal(sender.ended.length, 0);
    p.finish();
    assert.deepEqual(sender.ended, ['c0'], 'end-of-partition after the last buffer');
    assert.deepEqual(sender.sent.flatMap((s) => decode(s.buffer)), Array.from({ length: 60 }, (_, i) => 100_000 + i));
  });

  it('network - end-of-partition waits for the buffers before it, needing no credit itself', () => {
    const sender = new TestingSender();
    const p = partition(['c0'], sender);
    p.emit('last');
    p.finish();
    assert.deepEqual(sender.ended, [], 'the buffer has no credit yet');
    p.subpartition('c0')?.addCredit(1);
    assert.equal(sender.sent.length, 1);
    assert.deepEqual(sender.ended, ['c0']);
    assert.ok(p.isFinished());
  });

  it('network - the buffer timeout flushes a partial buffer only when it can leave now', () => {
    const sender = new TestingSender();
    const p = partition(['c0'], sender);
    p.emit('a');
    p.flush();
    assert.equal(sender.sent.length, 0, 'no credit: keep filling');
    p.subpartition('c0')?.addCredit(2);
    p.flush();
    assert.equal(sender.sent.length, 1);
    assert.deepEqual(decode(sender.sent[0]!.buffer), ['a']);
  });

  it('network - records packed straight into a buffer are the bytes msgpackr writes, timestamps, fallbacks and buffer ends included', () => {
    const sender = new TestingSender();
    const p = partition(['c0'], sender);
    const records: unknown[] = ['a', 1, -7, 3.5, ['word', 42], { k: 'v' }, 'ü€', 'x'.repeat(100), 2 ** 40, null, true, undefined];
    const all = Array.from({ length: 20 }, () => records).flat();
    // Every third record with a timestamp: the direct path writes the timestamp ext too.
    all.forEach((r, i) => p.emit(r, i % 3 === 0 ? 1000 + i : NO_TIMESTAMP));
    p.finish();
    p.subpartition('c0')?.addCredit(1000);
    const got: [unknown, number][] = [];
    const out = new RecordDeserializer();
    for (const { buffer } of sender.sent) {
      assert.ok(buffer.length <= 64 || out.forEach(buffer.data, buffer.length, () => undefined) === 1, 'only a single record exceeds a buffer');
      out.forEach(buffer.data, buffer.length, (r, ts) => got.push([r, ts]));
    }
    assert.deepEqual(got, all.map((r, i) => [r, i % 3 === 0 ? 1000 + i : NO_TIMESTAMP]));
    // Byte for byte what msgpackr writes for each record, behind a fixext 8 timestamp where there is one.
    const reference = new Packr({ useRecords: false, moreTypes: false });
    const expected = Buffer.concat(
      all.map((r, i) => {
        if (i % 3 !== 0) return reference.pack(r);
        const ts = Buffer.alloc(10);
        ts[0] = 0xd7;
        ts[1] = 0x10;
        ts.writeDoubleBE(1000 + i, 2);
        return Buffer.concat([ts, reference.pack(r)]);
      }),
    );
    assert.deepEqual(Buffer.concat(sender.sent.map(({ buffer }) => Buffer.from(buffer.data, 0, buffer.length))), expected);
  });

  it('network - records go to the channel the selector picks', () => {
    const sender = new TestingSender();
    const p = partition(['c0', 'c1'], sender, ((r: unknown) => (r as number) % 2) as () => number);
    for (let i = 0; i < 6; i++) p.emit(i);
    for (const sub of p.subpartitions) sub.addCredit(5);
    p.finish();
    const by = (ch: string) => sender.sent.filter((s) => s.ch === ch).flatMap((s) => decode(s.buffer));
    assert.deepEqual(by('c0'), [0, 2, 4]);
    assert.deepEqual(by('c1'), [1, 3, 5]);
  });

  it('network - an input gate announces exclusive credits and returns one per processed buffer', () => {
    const credits: [string, number][] = [];
    const gate = new InputGate(['a', 'b'], { sendCredit: (ch, n) => credits.push([ch, n]) }, { exclusiveCredits: 2, floatingCredits: 0 });
    gate.start();
    assert.deepEqual(credits, [['a', 2], ['b', 2]]);
    credits.length = 0;
    gate.onBuffer('a', new ArrayBuffer(1), 1, 0);
    gate.onBuffer('a', new ArrayBuffer(1), 1, 0);
    assert.throws(() => gate.onBuffer('a', new ArrayBuffer(1), 1, 0), { code: 'CREDIT_VIOLATION' });
    const entry = gate.poll();
    assert.equal(entry?.channelIndex, 0);
    gate.recycle(0);
    gate.flushCredits();
    assert.deepEqual(credits, [['a', 1]]);
  });

  it('network - floating credits go to a channel with a backlog and come back when it has none', () => {
    const credits: [string, number][] = [];
    const gate = new InputGate(['a', 'b'], { sendCredit: (ch, n) => credits.push([ch, n]) }, { exclusiveCredits: 1, floatingCredits: 3 });
    gate.start();
    credits.length = 0;
    gate.onBuffer('a', new ArrayBuffer(1), 1, 5); // producer has 5 more queued: lend all 3
    gate.flushCredits();
    assert.deepEqual(credits, [['a', 3]]);
    credits.length = 0;
    for (let i = 0; i < 3; i++) gate.onBuffer('a', new ArrayBuffer(1), 1, 0);
    // 4 buffers queued; processing them returns the exclusive credit and gives the 3 floating back to the pool.
    for (let i = 0; i < 4; i++) gate.recycle(gate.poll()!.channelIndex);
    gate.flushCredits();
    assert.deepEqual(credits, [['a', 1]]);
    // The pool is whole again: b's backlog gets all of it.
    credits.length = 0;
    gate.onBuffer('b', new ArrayBuffer(1), 1, 3);
    gate.flushCredits();
    assert.deepEqual(credits, [['b', 3]]);
  });

  it('network - a gate is finished once every channel delivered end-of-partition, after its buffers', () => {
    const gate = new InputGate(['a', 'b'], { sendCredit: () => undefined });
    gate.start();
    gate.onBuffer('a', new ArrayBuffer(1), 1, 0);
    gate.onEndOfPartition('a');
    gate.onEndOfPartition('b');
    assert.equal(gate.poll()?.data?.byteLength, 1);
    assert.equal(gate.isFinished(), false);
    gate.poll();
    gate.poll();
    assert.equal(gate.isFinished(), true);
    assert.throws(() => gate.onBuffer('c', new ArrayBuffer(1), 1, 0), { code: 'UNKNOWN_CHANNEL' });
  });
});
