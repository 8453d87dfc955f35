import assert from 'node:assert/strict';
import { decodeDataFrame, encodeDataMessage } from '../../../lib/network/data-frames.js';
import type { DataMessage } from '../../../lib/network/messages.js';
import { FrameDecoder } from '../../../lib/transport/frame.js';

function viaFrames(msgs: DataMessage[]): DataMessage[] {
  const wire = Buffer.concat(msgs.flatMap((m) => encodeDataMessage(m)));
  const out: DataMessage[] = [];
  const decoder = new FrameDecoder(1 << 20);
  // Byte by byte: frames split anywhere must still decode.
  for (let i = 0; i < wire.length; i += 7) decoder.push(wire.subarray(i, i + 7), (f) => out.push(decodeDataFrame(f)));
  return out;
}

describe('network - data frames', () => {
  it('network - buffers, credits and end-of-partition survive framing', () => {
    const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer;
    const msgs: DataMessage[] = [
      { t: 'buffer', ch: 'j|0|a|0|b|1', data, length: 6, backlog: 3 },
      { t: 'credit', ch: 'j|0|a|0|b|1', n: 2 },
      { t: 'eop', ch: 'j|0|a|0|b|1' },
    ];
    const [buffer, credit, eop] = viaFrames(msgs) as [DataMessage, DataMessage, DataMessage];
    assert.equal(buffer.t, 'buffer');
    if (buffer.t === 'buffer') {
      assert.equal(buffer.backlog, 3);
      assert.deepEqual([...new Uint8Array(buffer.data, 0, buffer.length)], [1, 2, 3, 4, 5, 6]);
    }
    assert.deepEqual(credit, msgs[1]);
    assert.deepEqual(eop, msgs[2]);
  });

  it('network - malformed frames are rejected with DATA_PROTOCOL_VIOLATION', () => {
    for (const bad of [Buffer.from([9, 0, 1, 65]), Buffer.from([1]), Buffer.from([3, 0, 1, 65, 0]), Buffer.from([1, 0, 50, 65]), Buffer.from([2, 0, 1, 65, 1])]) {
      assert.throws(() => decodeDataFrame(bad), { code: 'DATA_PROTOCOL_VIOLATION' });
    }
  });
});
