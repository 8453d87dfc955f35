import assert from 'node:assert/strict';
import { retainLatest } from '../../../lib/ha/checkpoint-retention.js';
import { sessionIdOf } from '../../../lib/ha/etcd-election.js';

const ids = (list: Array<{ checkpointId: number }>): number[] => list.map((c) => c.checkpointId);

describe('ha checkpoint retention', () => {
  it('retention - keeps the N latest, oldest first, and returns the subsumed', () => {
    const { kept, subsumed } = retainLatest([{ checkpointId: 1 }, { checkpointId: 2 }], { checkpointId: 3 }, 2);
    assert.deepEqual(ids(kept), [2, 3]);
    assert.deepEqual(ids(subsumed), [1]);
  });

  it('retention - an added checkpoint older than the kept ones is itself subsumed', () => {
    const { kept, subsumed } = retainLatest([{ checkpointId: 5 }, { checkpointId: 6 }], { checkpointId: 4 }, 2);
    assert.deepEqual(ids(kept), [5, 6]);
    assert.deepEqual(ids(subsumed), [4]);
  });

  it('retention - re-adding an id replaces it', () => {
    const { kept, subsumed } = retainLatest([{ checkpointId: 1, v: 'a' }], { checkpointId: 1, v: 'b' }, 1);
    assert.deepEqual(kept, [{ checkpointId: 1, v: 'b' }]);
    assert.deepEqual(subsumed, []);
  });

  it('retention - rejects a non-positive retain count', () => {
    assert.throws(() => retainLatest([], { checkpointId: 1 }, 0), RangeError);
  });

  it('session ids - compare as strings the way revisions compare as numbers', () => {
    const revisions = ['9', '10', '99', '100', '9223372036854775807'];
    const sessions = revisions.map(sessionIdOf);
    assert.deepEqual([...sessions].sort(), sessions);
    assert.ok(sessions.every((s) => s.length === 20));
  });
});
