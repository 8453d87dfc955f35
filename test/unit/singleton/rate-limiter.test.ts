import assert from 'node:assert/strict';
import { take } from '../../../scripts/examples/rate-limiter/limiter.js';

describe('examples - token bucket', () => {
  const config = { capacity: 3, refillPerSecond: 1 };

  it('takes from a full bucket until empty, then refuses', () => {
    let bucket = undefined;
    const verdicts: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const r = take(bucket, 0, config);
      bucket = r.bucket;
      verdicts.push(r.verdict.allowed);
    }
    assert.deepEqual(verdicts, [true, true, true, false]);
  });

  it('refills with time, up to the capacity', () => {
    const empty = { tokens: 0, at: 0 };
    assert.equal(take(empty, 1500, config).verdict.allowed, true);
    assert.equal(take(empty, 500, config).verdict.allowed, false);
    assert.equal(take(empty, 60_000, config).verdict.remaining, 2);
  });
});
