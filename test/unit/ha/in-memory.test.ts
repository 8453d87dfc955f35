import assert from 'node:assert/strict';
import { FencingError, InMemoryCompletedCheckpointStore, InMemoryLeaderElection } from '../../../lib/ha/index.js';
import { InMemorySavepointStore, InMemorySinkClaimStore } from '../../../lib/ha/in-memory.js';
import { SavepointState, type SavepointRecord } from '../../../lib/ha/etcd-savepoints.js';
import { HaErrorCode } from '../../../lib/ha/errors.js';

describe('ha in-memory services', () => {
  it('in-memory election - a guard of an ended term fences writes', async () => {
    const election = new InMemoryLeaderElection();
    const events: string[] = [];
    election.campaign({ grantLeadership: (s) => events.push(`granted ${s}`), revokeLeadership: () => events.push('revoked') });
    election.grant();
    const store = new InMemoryCompletedCheckpointStore(election.guard(), 2);
    assert.deepEqual(await store.add('j', { checkpointId: 1 }), []);
    election.revoke();
    await assert.rejects(store.add('j', { checkpointId: 2 }), FencingError);
    assert.deepEqual(events, ['granted 00000000000000000001', 'revoked']);
  });

  it('in-memory savepoints - a stop intent is recorded with its completion and removed only by its own failure', async () => {
    const election = new InMemoryLeaderElection();
    election.grant();
    const store = new InMemorySavepointStore(election.guard());
    const record = (checkpointId: number, stop: boolean): SavepointRecord => ({
      jobId: 'j', checkpointId, path: `/sp/${checkpointId}`, stop, requestId: `r${checkpointId}`, state: SavepointState.InProgress, triggeredAt: 1, endedAt: null,
    });
    await store.begin(record(1, true));
    const done = await store.complete(record(1, true), 5);
    assert.equal(done.state, SavepointState.Completed);
    assert.deepEqual(await store.stopIntent('j'), { jobId: 'j', savepointPath: '/sp/1', checkpointId: 1, recordedAt: 5 });
    await store.fail(record(2, true), 'aborted', 6); // another savepoint's failure keeps the intent
    assert.equal((await store.stopIntent('j'))?.checkpointId, 1);
    await store.fail(done, 'lost', 7);
    assert.equal(await store.stopIntent('j'), undefined);
    assert.deepEqual((await store.list('j')).map((r) => [r.checkpointId, r.state]), [[1, 'failed'], [2, 'failed']]);
    election.revoke();
    await assert.rejects(store.begin(record(3, false)), FencingError);
  });

  it('in-memory sink claims - a directory of another job is refused unless it may be taken over; writes are fenced', async () => {
    const election = new InMemoryLeaderElection();
    election.grant();
    const claims = new InMemorySinkClaimStore(election.guard(), () => 42);
    await claims.claim(['/out/a/'], 'j1', async () => false);
    await assert.rejects(claims.claim(['/out/a'], 'j2', async () => false), { code: HaErrorCode.SinkDirOwned });
    await claims.claim(['/out/a'], 'j2', async (owner) => owner === 'j1');
    assert.deepEqual(await claims.list(), [{ dir: '/out/a', jobId: 'j2', claimedAt: 42 }]);
    await claims.release('j2');
    assert.deepEqual(await claims.list(), []);
    election.revoke();
    await assert.rejects(claims.claim(['/out/b'], 'j3', async () => false), FencingError);
  });
});
