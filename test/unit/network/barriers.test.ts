import assert from 'node:assert/strict';
import { RecordSerializer, type NetworkBuffer } from '../../../lib/network/buffer.js';
import { decodeDataFrame, encodeDataMessage } from '../../../lib/network/data-frames.js';
import { DataMessageType, type BarrierInfo, type DataMessage } from '../../../lib/network/messages.js';
import { ResultPartition, type PartitionSender } from '../../../lib/network/result-partition.js';
import { FRAME_HEADER_BYTES } from '../../../lib/transport/frame.js';

class TestingSender implements PartitionSender {
  readonly log: string[] = [];
  sendBuffer(ch: string, buffer: NetworkBuffer): void {
    this.log.push(`${ch}:buffer(${buffer.length})`);
  }
  sendEndOfPartition(ch: string): void {
    this.log.push(`${ch}:eop`);
  }
  sendBarrier(ch: string, barrier: BarrierInfo): void {
    this.log.push(`${ch}:barrier(${barrier.checkpointId})`);
  }
}

const barrier: BarrierInfo = { checkpointId: 12, savepoint: true, dir: '/checkpoints/job/chk-12' };

describe('network - checkpoint barriers', () => {
  it('barriers - a barrier cuts the current buffer and leaves behind the buffers before it, without credit', () => {
    const sender = new TestingSender();
    const p = new ResultPartition(['a', 'b'], () => 0, new RecordSerializer(), sender, { bufferBytes: 64, maxBacklog: 4 });
    for (let i = 0; i < 20; i++) p.emit(i);
    p.broadcastBarrier(barrier);
    // No credit: on 'b' (no records) the barrier leaves at once; on 'a' it waits behind the buffers.
    assert.deepEqual(sender.log, ['b:barrier(12)']);
    assert.equal(p.subpartitions[0]?.backlog, 1, 'the barrier is not backlog');
    p.subpartition('a')?.addCredit(1);
    assert.deepEqual(sender.log, ['b:barrier(12)', 'a:buffer(20)', 'a:barrier(12)']);
    p.emit(99);
    p.finish();
    p.subpartition('a')?.addCredit(1);
    assert.deepEqual(sender.log.slice(3), ['b:eop', 'a:buffer(1)', 'a:eop']);
  });

  it('barriers - travel in data frames with their checkpoint and options', () => {
    const msg: DataMessage = { t: DataMessageType.Barrier, ch: 'job/0/op-0/1/op-2/0', barrier };
    const frame = Buffer.concat(encodeDataMessage(msg)).subarray(FRAME_HEADER_BYTES);
    assert.deepEqual(decodeDataFrame(frame), msg);
  });
});
