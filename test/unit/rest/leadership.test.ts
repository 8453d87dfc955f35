import assert from 'node:assert/strict';
import { LeaderTracker } from '../../../lib/rest/leadership.js';

describe('rest leadership - what a Master knows of the leader', () => {
  it('records terms as they change, once each, and ends the previous one', () => {
    let now = 100;
    const tracker = new LeaderTracker('m1:1', () => now);
    tracker.setRestAddress('m1:8081');
    assert.equal(tracker.isLeader, false);
    tracker.granted('0001');
    assert.equal(tracker.isLeader, true);
    assert.deepEqual(tracker.current(), { term: 1, node: 'm1:1', rest: 'm1:8081', url: 'http://m1:8081', since: 100 });
    now = 150;
    tracker.observed({ sessionId: '0001', node: 'm1:1' }); // retrieval confirms the same term
    assert.equal(tracker.history().length, 1);
    now = 200;
    tracker.revoked();
    assert.equal(tracker.current(), null);
    now = 300;
    tracker.observed({ sessionId: '0002', node: 'm2:1', rest: 'm2:8081' });
    assert.equal(tracker.isLeader, false);
    assert.deepEqual(tracker.history(), [
      { term: 1, node: 'm1:1', rest: 'm1:8081', url: 'http://m1:8081', since: 100, until: 200 },
      { term: 2, node: 'm2:1', rest: 'm2:8081', url: 'http://m2:8081', since: 300, until: null },
    ]);
  });

  it('ignores a revoke once another leader is known', () => {
    const tracker = new LeaderTracker('m1:1');
    tracker.granted('0001');
    tracker.observed({ sessionId: '0002', node: 'm2:1' });
    tracker.revoked();
    assert.equal(tracker.current()?.node, 'm2:1');
  });

  it('never hands out the leader session id (the token TaskExecutors check)', () => {
    const tracker = new LeaderTracker('m1:1');
    tracker.granted('00000000000000000042');
    tracker.observed({ sessionId: '00000000000000000043', node: 'm2:1' });
    const shown = JSON.stringify({ current: tracker.current(), history: tracker.history() });
    assert.ok(!shown.includes('0042') && !shown.includes('0043'), shown);
    assert.deepEqual(tracker.history().map((t) => t.term), [1, 2]);
  });
});
