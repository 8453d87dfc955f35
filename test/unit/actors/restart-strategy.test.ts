import assert from 'node:assert/strict';
import { RestartBackoff } from '../../../actors/jobmaster/restart-strategy.js';

describe('jobmaster - restart strategy', () => {
  it('counts restarts made under earlier leaders against fixed-delay attempts', () => {
    const fresh = new RestartBackoff({ type: 'fixed-delay', attempts: 3, delayMs: 10 });
    assert.deepEqual(fresh.onFailure(0), { restart: true, delayMs: 10 });
    assert.equal(fresh.restartCount, 1);
    const recovered = new RestartBackoff({ type: 'fixed-delay', attempts: 3, delayMs: 10 }, 2);
    assert.equal(recovered.restartCount, 2);
    assert.deepEqual(recovered.onFailure(0), { restart: true, delayMs: 10 });
    assert.equal(recovered.onFailure(1).restart, false);
    assert.equal(recovered.restartCount, 3);
  });
});
