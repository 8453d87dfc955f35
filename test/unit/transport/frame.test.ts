import assert from 'node:assert/strict';
import { FrameBatch, FrameDecoder, FrameError, encodeFrame } from '../../../lib/transport/frame.js';

function frames(decoder: FrameDecoder, ...chunks: Buffer[]): string[] {
  const out: string[] = [];
  for (const chunk of chunks) decoder.push(chunk, (f) => out.push(f.toString()));
  return out;
}

describe('transport - framing', () => {
  it('decodes several frames from one chunk', () => {
    const bytes = Buffer.concat([encodeFrame(Buffer.from('a')), encodeFrame(Buffer.from('bc'))]);
    assert.deepEqual(frames(new FrameDecoder(100), bytes), ['a', 'bc']);
  });

  it('reassembles a frame split at every byte', () => {
    const bytes = Buffer.concat([encodeFrame(Buffer.from('hello')), encodeFrame(Buffer.from('world'))]);
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    const decoder = new FrameDecoder(100);
    assert.deepEqual(frames(decoder, ...chunks), ['hello', 'world']);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('hands over spans of the chunk, and a frame split across chunks as a buffer of its own', () => {
    const bytes = Buffer.concat([encodeFrame(Buffer.from('ab')), encodeFrame(Buffer.from('cde')), encodeFrame(Buffer.from('fgh'))]);
    const decoder = new FrameDecoder(100);
    const seen: Array<[string, boolean]> = [];
    const onSpan = (source: Buffer, start: number, end: number) => seen.push([source.toString('utf8', start, end), source.length === end - start]);
    decoder.pushSpans(bytes.subarray(0, 18), onSpan); // the third frame's header and one byte
    decoder.pushSpans(bytes.subarray(18), onSpan);
    assert.deepEqual(seen, [['ab', false], ['cde', false], ['fgh', true]]);
  });

  it('rejects an oversized frame from its header alone, before buffering it', () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1_000_000);
    assert.throws(
      () => frames(new FrameDecoder(1024), header),
      (err: unknown) => err instanceof FrameError && err.code === 'FRAME_TOO_LARGE',
    );
  });

  it('rejects an empty frame', () => {
    assert.throws(
      () => frames(new FrameDecoder(1024), Buffer.alloc(4)),
      (err: unknown) => err instanceof FrameError && err.code === 'PROTOCOL_VIOLATION',
    );
  });

  it('batches appended frames into one buffer that decodes back', () => {
    const batch = new FrameBatch(8);
    const payloads = Array.from({ length: 100 }, (_, i) => Buffer.from(`message-${i}`));
    for (const p of payloads) batch.append(p);
    const taken = batch.take();
    assert.equal(batch.size, 0);
    assert.deepEqual(
      frames(new FrameDecoder(1024), taken),
      payloads.map((p) => p.toString()),
    );
  });
});

describe('transport - frame assembly', () => {
  it('assembles a large frame split into many chunks with one allocation and each byte copied once', () => {
    const allocations: number[] = [];
    const decoder = new FrameDecoder(64 * 1024 * 1024, (bytes) => {
      allocations.push(bytes);
      return Buffer.allocUnsafe(bytes);
    });
    const payload = Buffer.alloc(32 * 1024 * 1024, 7);
    payload[payload.length - 1] = 9;
    const wire = Buffer.concat([encodeFrame(payload), encodeFrame(Buffer.from('after'))]);
    const received: Buffer[] = [];
    for (let at = 0; at < wire.length; at += 64 * 1024) decoder.push(wire.subarray(at, at + 64 * 1024), (f) => received.push(f));
    assert.deepEqual(allocations, [payload.length]);
    assert.equal(received.length, 2);
    assert.ok(received[0]!.equals(payload));
    assert.equal(received[1]!.toString(), 'after');
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('hands over a frame that lies within one chunk as a view, without allocating', () => {
    let allocations = 0;
    const decoder = new FrameDecoder(1024, (bytes) => {
      allocations++;
      return Buffer.allocUnsafe(bytes);
    });
    const chunk = Buffer.concat([encodeFrame(Buffer.from('one')), encodeFrame(Buffer.from('two'))]);
    const out: Buffer[] = [];
    decoder.push(chunk, (f) => out.push(f));
    assert.equal(allocations, 0);
    assert.equal(out[0]!.buffer, chunk.buffer);
  });
});
