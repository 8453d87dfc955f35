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
