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

  it('lists its items oldest first without removing them, across wrap-around', () => {
    const q = new RingQueue<number>(4);
    for (let i = 0; i < 6; i++) q.push(i);
    q.shift();
    q.shift();
    q.push(6);
    assert.deepEqual(q.toArray(), [2, 3, 4, 5, 6]);
    assert.equal(q.length, 5);
    assert.equal(q.shift(), 2);
  });
});
