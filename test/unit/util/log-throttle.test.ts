import assert from 'node:assert/strict';
import { LogThrottle } from '../../../lib/util/log-throttle.js';

describe('util - log throttle', () => {
  it('admits one line per kind and interval, and reports how many it left out', () => {
    let now = 0;
    const throttle = new LogThrottle(1000, () => now);
    assert.deepEqual(throttle.admit('refused'), { suppressed: 0 });
    assert.equal(throttle.admit('refused'), null);
    assert.equal(throttle.admit('refused'), null);
    assert.deepEqual(throttle.admit('bad-input'), { suppressed: 0 }, 'kinds are independent');
    now = 999;
    assert.equal(throttle.admit('refused'), null);
    now = 1000;
    assert.deepEqual(throttle.admit('refused'), { suppressed: 3 });
    assert.equal(throttle.admit('refused'), null);
  });
});
