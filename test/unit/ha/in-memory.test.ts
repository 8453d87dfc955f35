import assert from 'node:assert/strict';
import { FencingError, InMemoryCompletedCheckpointStore, InMemoryLeaderElection } from '../../../lib/ha/index.js';

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
});
