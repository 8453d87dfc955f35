import assert from 'node:assert/strict';
import { watchOffHeapMemory } from '../../../lib/task/offheap-monitor.js';
import { waitFor } from '../../support/wait.js';

describe('task - off-heap memory monitor', () => {
  it('reports once, after two consecutive readings above the limit; one reading above is forgiven', async () => {
    const readings = [10, 200, 10, 200, 200, 200, 200];
    let next = 0;
    const reported: number[] = [];
    const stop = watchOffHeapMemory({ limitBytes: 100, intervalMs: 5, measure: () => readings[Math.min(next++, readings.length - 1)]!, onExceeded: (used) => reported.push(used) });
    try {
      await waitFor('the limit to be reported', () => reported.length > 0, { timeoutMs: 5000 });
      assert.equal(next, 5, 'reported at the second reading in a row above the limit, not at the lone one before');
      assert.deepEqual(reported, [200]);
    } finally {
      stop();
    }
  });
});
