import assert from 'node:assert/strict';
import { RingQueue } from '../../../lib/util/ring-queue.js';

describe('util - ring queue', () => {
  it('keeps FIFO order across growth and wrap-around', () => {
    const q = new RingQueue<number>(4);
    const expected: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 7; i++) {
        q.push(next);
        expected.push(next++);
      }
      for (let i = 0; i < 5; i++) assert.equal(q.shift(), expected.shift());
    }
    assert.equal(q.length, expected.length);
    assert.deepEqual(q.drain(), expected);
    assert.equal(q.length, 0);
    assert.equal(q.shift(), undefined);
  });
});
