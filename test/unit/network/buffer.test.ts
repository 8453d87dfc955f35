import assert from 'node:assert/strict';
import { BufferBuilder, RecordDeserializer, RecordSerializer } from '../../../lib/network/buffer.js';

function roundTrip(records: unknown[], capacity = 1024): unknown[][] {
  const serializer = new RecordSerializer();
  const builder = new BufferBuilder(capacity);
  const buffers = [];
  for (const r of records) {
    serializer.pack(r);
    if (serializer.size > builder.remaining && !builder.isEmpty) buffers.push(builder.take());
    builder.append(serializer.target, serializer.start, serializer.end);
  }
  if (!builder.isEmpty) buffers.push(builder.take());
  const out = new RecordDeserializer();
  return buffers.map((b) => {
    const records: unknown[] = [];
    assert.equal(out.forEach(b.data, b.length, (r) => records.push(r)), records.length);
    return records;
  });
}

describe('network - buffer serialization', () => {
  it('network - records survive a round trip through buffers, in order', () => {
    const records = ['a', 1, -7, 3.5, ['word', 42], { k: 'v', n: [1, 2] }, true, null, 'ü€😀', 2 ** 40];
    assert.deepEqual(roundTrip(records).flat(), records);
  });

  it('network - records are split over buffers of at most the capacity', () => {
    const records = Array.from({ length: 1000 }, (_, i) => `record-${i}`);
    const buffers = roundTrip(records, 256);
    assert.ok(buffers.length > 10);
    assert.deepEqual(buffers.flat(), records);
  });

  it('network - a record larger than a buffer gets a buffer of its own size', () => {
    const big = 'x'.repeat(5000);
    const buffers = roundTrip(['small', big, 'after'], 1024);
    assert.deepEqual(buffers, [['small'], [big], ['after']]);
  });

  it('network - a mostly empty buffer is trimmed when taken, a full one is handed over as is', () => {
    const builder = new BufferBuilder(1024);
    const s = new RecordSerializer();
    s.pack('tiny');
    builder.append(s.target, s.start, s.end);
    const taken = builder.take();
    assert.equal(taken.data.byteLength, taken.length);
    assert.ok(builder.isEmpty);
  });
});
