import assert from 'node:assert/strict';
import { decide } from '../../../lib/actor/supervision.js';

describe('actor - supervision policy', () => {
  it('restarts up to the limit within the window, then stops', () => {
    const policy = { strategy: 'restart' as const, maxRestarts: 2, withinMs: 1000 };
    const restarts: number[] = [];
    assert.equal(decide(policy, restarts, 0), 'restart');
    assert.equal(decide(policy, restarts, 10), 'restart');
    assert.equal(decide(policy, restarts, 20), 'stop');
  });

  it('forgets restarts older than the window', () => {
    const policy = { strategy: 'restart' as const, maxRestarts: 1, withinMs: 1000 };
    const restarts: number[] = [];
    assert.equal(decide(policy, restarts, 0), 'restart');
    assert.equal(decide(policy, restarts, 2000), 'restart');
  });

  it('always stops under the stop strategy', () => {
    assert.equal(decide({ strategy: 'stop', maxRestarts: 10, withinMs: 1000 }, [], 0), 'stop');
  });
});
