/**
 * The election's half of a takeover on proof of death (etcd-election.ts `revokeDeadTerm`), on
 * real etcd: only the exact term seen is revoked, the revoking standby leads at once, and a
 * revocation of a leader that is in fact alive (a faked proof) leaves it unable to write.
 */
import assert from 'node:assert/strict';
import { EtcdHaServices, HaErrorCode, HaKeys, type EtcdLeaderElection, type LeaderInfo } from '../../lib/ha/index.js';
import { DeadTermRevocation } from '../../lib/ha/etcd-election.js';
import { useEtcd, uniqueClusterId } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';

describe('ha election - revoking a term proven dead (real etcd)', function () {
  this.timeout(30_000);
  const etcd = useEtcd(1);
  const services: EtcdHaServices[] = [];

  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.close()));
  });

  /** A contender with a 5 s lease, so that nothing here can be the lease running out. */
  function contender(clusterId: string, address: string) {
    const ha = new EtcdHaServices({ ...etcd.cluster.clientOptions, clusterId, leaseTtlSeconds: 5 });
    services.push(ha);
    const election: EtcdLeaderElection = ha.leaderElection();
    const c = { ha, election, history: [] as string[], grantedAt: 0 };
    election.campaign({ grantLeadership: (s) => ((c.grantedAt = Date.now()), c.history.push(`granted:${s}`)), revokeLeadership: () => c.history.push('revoked') }, address, { instance: address });
    return c;
  }

  async function leaderSeenBy(ha: EtcdHaServices): Promise<LeaderInfo> {
    const retrieval = ha.leaderRetrieval();
    retrieval.start(() => undefined);
    return waitFor('the leader record', () => retrieval.current() ?? undefined);
  }

  it('revokes only the exact term it is given; the standby then leads at once and the old term cannot write', async () => {
    const id = uniqueClusterId();
    const a = contender(id, 'a');
    await waitFor('a leads', () => a.election.isLeader());
    const b = contender(id, 'b');
    const seen = await leaderSeenBy(b.ha);
    assert.equal(seen.instance, 'a');
    assert.ok(seen.leaseId);
    // Another term (a revision that is not the one seen) is left alone: Gone once b has a candidacy
    // (NotApplicable before: a contender without one has nothing to take over with).
    const older = (BigInt(seen.sessionId) - 1n).toString().padStart(20, '0');
    await waitFor('a revocation of another term to be refused', async () => (await b.election.revokeDeadTerm({ sessionId: older, leaseId: seen.leaseId! })) === DeadTermRevocation.Gone);
    assert.equal((await b.ha.root.getAll().prefix(HaKeys.leaderPrefix).keys()).length, 2, "a's key is still there");
    assert.ok(a.election.isLeader());
    // Our own term is never ours to revoke.
    assert.equal(await a.election.revokeDeadTerm(seen as { sessionId: string; leaseId: string }), DeadTermRevocation.NotApplicable);

    // As if a were proven dead while it is alive: the worst a wrong proof can do.
    const guard = a.election.guard()!;
    const revokedAt = Date.now();
    assert.equal(await b.election.revokeDeadTerm({ sessionId: seen.sessionId, leaseId: seen.leaseId! }), DeadTermRevocation.Revoked);
    await waitFor('b leads', () => b.election.isLeader(), { intervalMs: 5 });
    assert.ok(b.grantedAt - revokedAt < 1000, `b led ${b.grantedAt - revokedAt} ms after the revocation`);
    await assert.rejects(a.ha.jobGraphStore(guard).put('job', { n: 1 }), { code: HaErrorCode.LeadershipLost });
    await waitFor('a steps down', () => a.history.includes('revoked'));
    // The same proof again (another standby, or a retry): nothing left to revoke.
    assert.equal(await b.election.revokeDeadTerm({ sessionId: seen.sessionId, leaseId: seen.leaseId! }), DeadTermRevocation.Gone);
  });
});
