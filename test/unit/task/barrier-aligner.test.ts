import assert from 'node:assert/strict';
import { InputGate } from '../../../lib/network/input-gate.js';
import type { BarrierInfo } from '../../../lib/network/messages.js';
import { BarrierAligner } from '../../../lib/task/barrier-aligner.js';

const b = (checkpointId: number): BarrierInfo => ({ checkpointId, savepoint: false, dir: `/cp/${checkpointId}` });

describe('task - barrier alignment', () => {
  it('barrier alignment - blocks each channel that delivered the barrier and fires once all did', () => {
    const a = new BarrierAligner(3);
    assert.deepEqual(a.onBarrier(1, b(5)), []);
    assert.deepEqual(a.blockedChannels(), [1]);
    assert.equal(a.aligning, 5);
    assert.deepEqual(a.onBarrier(0, b(5)), []);
    assert.deepEqual(a.blockedChannels(), [0, 1]);
    assert.deepEqual(a.onBarrier(2, b(5)), [{ type: 'aligned', barrier: b(5) }]);
    assert.deepEqual(a.blockedChannels(), []);
    assert.equal(a.aligning, null);
  });

  it('barrier alignment - a single channel aligns at once', () => {
    assert.deepEqual(new BarrierAligner(1).onBarrier(0, b(1)), [{ type: 'aligned', barrier: b(1) }]);
  });

  it('barrier alignment - an ended channel counts as aligned, before or during alignment', () => {
    const a = new BarrierAligner(3);
    assert.deepEqual(a.onEndOfPartition(2), []);
    a.onBarrier(0, b(1));
    assert.deepEqual(a.onEndOfPartition(1), [{ type: 'aligned', barrier: b(1) }]);
    // later checkpoints only need the one open channel
    assert.deepEqual(a.onBarrier(0, b(2)), [{ type: 'aligned', barrier: b(2) }]);
  });

  it('barrier alignment - a newer barrier supersedes the one aligning: decline it, block only the new channel', () => {
    const a = new BarrierAligner(2);
    a.onBarrier(0, b(3));
    assert.deepEqual(a.onBarrier(1, b(4)), [{ type: 'aborted', checkpointId: 3, reason: 'superseded', newerId: 4 }]);
    assert.deepEqual(a.blockedChannels(), [1]);
    // channel 0's late barrier 3 is stale, its barrier 4 completes the alignment
    assert.deepEqual(a.onBarrier(0, b(3)), []);
    assert.deepEqual(a.onBarrier(0, b(4)), [{ type: 'aligned', barrier: b(4) }]);
  });

  it('barrier alignment - a coordinator abort unblocks, and barriers of aborted or done checkpoints are ignored', () => {
    const a = new BarrierAligner(2);
    a.onBarrier(0, b(7));
    assert.deepEqual(a.abort(7), [{ type: 'aborted', checkpointId: 7, reason: 'aborted' }]);
    assert.deepEqual(a.blockedChannels(), []);
    assert.deepEqual(a.onBarrier(1, b(7)), []);
    assert.deepEqual(a.abort(9), []);
    assert.deepEqual(a.onBarrier(1, b(8)), []);
    assert.deepEqual(a.blockedChannels(), []);
  });

  it('barrier alignment - the gate holds a blocked channel\'s later buffers and returns them in order', () => {
    const gate = new InputGate(['c0', 'c1'], { sendCredit: () => undefined }, { exclusiveCredits: 4 });
    gate.start();
    const buf = (n: number) => new ArrayBuffer(n);
    gate.onBuffer('c0', buf(1), 1, 0);
    gate.onBarrier('c0', b(1));
    gate.onBuffer('c0', buf(2), 2, 0);
    gate.onBuffer('c1', buf(3), 3, 0);
    gate.onBarrier('c1', b(1));
    gate.onBuffer('c0', buf(4), 4, 0);
    const seen: string[] = [];
    const label = (e: ReturnType<InputGate['poll']>) => (e === undefined ? 'none' : e.barrier ? `B${e.channelIndex}` : `${e.channelIndex}:${e.length}`);
    const aligner = new BarrierAligner(2);
    for (;;) {
      const e = gate.poll();
      seen.push(label(e));
      if (e === undefined) break;
      if (e.barrier) {
        const out = aligner.onBarrier(e.channelIndex, e.barrier);
        if (out.some((o) => o.type === 'aligned')) {
          seen.push('SNAPSHOT');
          gate.unblockAll();
        } else if (aligner.isBlocked(e.channelIndex)) gate.block(e.channelIndex);
      }
    }
    assert.deepEqual(seen, ['0:1', 'B0', '1:3', 'B1', 'SNAPSHOT', '0:2', '0:4', 'none']);
  });
});
