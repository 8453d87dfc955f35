import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { createWireCodec } from '../../../lib/actor/codec.js';
import { ActorRef } from '../../../lib/actor/ref.js';
import { checkDecodeBudget, DEFAULT_DECODE_BYTES_PER_FRAME_BYTE } from '../../../lib/transport/decode-budget.js';
import { FrameError } from '../../../lib/transport/frame.js';

const budget = { perFrameByte: DEFAULT_DECODE_BYTES_PER_FRAME_BYTE, maxBytes: 64 * 1024 * 1024 };
const codec = createWireCodec((node, name) => new ActorRef(node, name, null as never));

function refusedWith(code: string) {
  return (err: unknown) => err instanceof FrameError && err.code === code;
}

/** An array32 header announcing `n` entries, followed by `body`. */
function array32(n: number, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = 0xdd;
  head.writeUInt32BE(n, 1);
  return Buffer.concat([head, body]);
}

describe('transport - decode budget', () => {
  it('accepts what the wire codec writes: asks with refs, job code, records, dates, undefined', () => {
    const replyTo = new ActorRef('127.0.0.1:4000', '$ask/17', null as never);
    const values: unknown[] = [
      [1, 'master', { type: 'master.job.submit', code: new Uint8Array(1024 * 1024), name: 'wc', replyTo }, replyTo],
      [1, 'jobmaster-1', { type: 'jm.task.collect', executionId: 'e', records: Array.from({ length: 1000 }, (_, i) => ({ word: `w${i}`, count: i })) }],
      [1, 'x', { at: new Date(), missing: undefined, big: 2 ** 40, neg: -5, f: 0.5, nested: [[1], [2, [3]]] }],
      [6],
    ];
    for (const value of values) {
      const frame = Buffer.from(codec.encode(value));
      assert.ok(checkDecodeBudget(frame, budget) > 0);
      codec.decode(frame); // and it is valid
    }
  });

  it('checks and decodes a frame at an offset in a larger buffer, never reading past its end', () => {
    const first = Buffer.from(codec.encode([1, 'counter', { type: 'inc' }]));
    const second = Buffer.from(codec.encode([1, 'other', { type: 'get', n: 7 }]));
    const both = Buffer.concat([first, second]);
    assert.ok(checkDecodeBudget(both, budget, first.length, both.length) > 0);
    assert.deepEqual(codec.decode(both, first.length, both.length), [1, 'other', { type: 'get', n: 7 }]);
    assert.deepEqual(codec.decode(both, 0, first.length), [1, 'counter', { type: 'inc' }]);
    // A span that ends inside a value is truncated, whatever follows it in the buffer.
    assert.throws(() => checkDecodeBudget(both, budget, 0, first.length - 1), refusedWith('PROTOCOL_VIOLATION'));
    // And one that holds two values has bytes after the first.
    assert.throws(() => checkDecodeBudget(both, budget, 0, both.length), refusedWith('PROTOCOL_VIOLATION'));
  });

  it('refuses a frame of empty maps before decoding it', () => {
    const frame = array32(1024 * 1024, Buffer.alloc(1024 * 1024, 0x80));
    assert.throws(() => checkDecodeBudget(frame, budget), refusedWith('FRAME_TOO_COMPLEX'));
  });

  it('refuses past the absolute bound even when each byte is cheap', () => {
    const frame = array32(1024 * 1024, Buffer.alloc(1024 * 1024, 0x01));
    assert.throws(() => checkDecodeBudget(frame, { ...budget, maxBytes: 1024 * 1024 }), refusedWith('FRAME_TOO_COMPLEX'));
    assert.ok(checkDecodeBudget(frame, budget) > 0);
  });

  it('refuses a container that announces more entries than the frame holds, at its header', () => {
    assert.throws(() => checkDecodeBudget(array32(2 ** 32 - 1, Buffer.alloc(8)), budget), refusedWith('PROTOCOL_VIOLATION'));
  });

  it("refuses msgpackr record definitions and other extensions the protocol doesn't use", () => {
    const records = Buffer.from(new Packr({ useRecords: true }).pack([{ k: 1 }, { k: 2 }]));
    assert.ok(records.includes(Buffer.from([0xd4, 0x72])), 'the encoder wrote a record definition');
    assert.throws(() => checkDecodeBudget(records, budget), refusedWith('PROTOCOL_VIOLATION'));
  });

  it('refuses truncated frames and trailing bytes', () => {
    const frame = Buffer.from(codec.encode([1, 'a', { type: 't' }]));
    assert.throws(() => checkDecodeBudget(frame.subarray(0, frame.length - 1), budget), refusedWith('PROTOCOL_VIOLATION'));
    assert.throws(() => checkDecodeBudget(Buffer.concat([frame, Buffer.from([0xc0])]), budget), refusedWith('PROTOCOL_VIOLATION'));
    assert.throws(() => checkDecodeBudget(Buffer.from([0xc1]), budget), refusedWith('PROTOCOL_VIOLATION'));
  });

  it('estimates no less than what decoding really allocates, for a shape near the ratio (arrays of one small int)', () => {
    const frame = Buffer.from(codec.encode(Array.from({ length: 100_000 }, (_, i) => [i % 100])));
    const estimate = checkDecodeBudget(frame, budget);
    assert.ok(estimate >= 100_000 * 37, `estimate ${estimate}`);
    assert.ok(estimate <= frame.length * DEFAULT_DECODE_BYTES_PER_FRAME_BYTE);
  });
});
