/**
 * One etcd member of three hung (SIGSTOP: connections stay open, nothing answers), quorum
 * intact, clients given every endpoint: the leader keeps its lease and its guarded writes go
 * on, and a standby takes over a lost leader as soon as its key expires, because the client
 * stops waiting on the hung member (lib/ha/etcd-host-health.ts). Loopback, real etcd.
 */
import assert from 'node:assert/strict';
import { createEtcdClient, EtcdHaServices, haRoot, HaKeys, type EtcdLeaderElection, type EtcdMember } from '../../lib/ha/index.js';
import { useEtcd, uniqueClusterId } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';

const TTL = 3;

describe('ha election with a hung etcd member (real etcd, 3 members)', function () {
  this.timeout(60_000);
  const etcd = useEtcd(3);
  const services: EtcdHaServices[] = [];
  let paused: EtcdMember | undefined;

  afterEach(async () => {
    paused?.resume();
    paused = undefined;
    await Promise.all(services.splice(0).map((s) => s.close()));
  });

  interface Candidate {
    ha: EtcdHaServices;
    election: EtcdLeaderElection;
    events: Array<{ at: number; what: 'granted' | 'revoked' }>;
  }

  function candidate(clusterId: string, address: string): Candidate {
    const ha = new EtcdHaServices({ ...etcd.cluster.clientOptions, clusterId, leaseTtlSeconds: TTL });
    services.push(ha);
    const election = ha.leaderElection();
    const c: Candidate = { ha, election, events: [] };
    election.campaign({ grantLeadership: () => c.events.push({ at: Date.now(), what: 'granted' }), revokeLeadership: () => c.events.push({ at: Date.now(), what: 'revoked' }) }, address);
    return c;
  }

  /** Pause a member that is not etcd's own leader (a hung etcd leader costs an etcd election first, another fault). */
  async function pauseAFollower(ha: EtcdHaServices): Promise<EtcdMember> {
    const [status, list] = await Promise.all([ha.client.maintenance.status(), ha.client.cluster.memberList({ linearizable: true })]);
    const leaderUrl = list.members.find((m) => m.ID === status.leader)!.clientURLs[0];
    const follower = etcd.cluster.members.find((m) => m.running && m.clientUrl !== leaderUrl)!;
    await follower.pause();
    paused = follower;
    return follower;
  }

  it('the leader keeps its lease and its guarded writes succeed while a member is paused', async () => {
    const id = uniqueClusterId();
    const a = candidate(id, 'a');
    await waitFor('a leads', () => a.election.isLeader());
    const b = candidate(id, 'b');
    await pauseAFollower(a.ha);
    const pausedAt = Date.now();
    // Guarded writes one after another for three lease TTLs: each is a fenced transaction that
    // checks the lease locally, on a member the client picks.
    let writes = 0;
    while (Date.now() - pausedAt < 3 * TTL * 1000) {
      const guard = a.election.guard();
      assert.ok(guard, `a lost its leadership ${Date.now() - pausedAt} ms after the pause: ${JSON.stringify(a.events)}`);
      await a.ha.jobGraphStore(guard).put('probe', { n: ++writes });
    }
    assert.deepEqual(a.events.map((e) => e.what), ['granted']);
    assert.deepEqual(b.events, [], 'the standby was granted while the leader held its lease');
    assert.ok(writes >= 3 * TTL, `only ${writes} guarded writes in ${3 * TTL} s`);
  });

  it('a standby takes over within a second of the old leader key expiring while a member is paused', async () => {
    const id = uniqueClusterId();
    const a = candidate(id, 'a');
    await waitFor('a leads', () => a.election.isLeader());
    const standbys = [candidate(id, 'b'), candidate(id, 'c')];
    await waitFor('the standbys registered', async () => (await a.ha.root.getAll().prefix(HaKeys.leaderPrefix).keys()).length === 3);
    const leaderKey = a.election.guard()!.leaderKey;
    // The leader goes right after the member hangs: the standbys have not met it hung yet.
    const member = await pauseAFollower(a.ha);
    // When etcd expires a's key, seen from a live member alone (this client never meets the paused one).
    const observer = createEtcdClient({ ...etcd.cluster.clientOptions, endpoints: etcd.cluster.endpoints.filter((u) => u !== member.clientUrl).slice(0, 1) });
    try {
      let expiredAt = 0;
      const watcher = await observer.namespace(haRoot(id)).watch().key(leaderKey).create();
      watcher.on('delete', () => (expiredAt = Date.now()));
      const closedAt = Date.now();
      await a.election.close(); // stops renewing: its key expires after the TTL, as after a crash
      const granted = await waitFor('a standby leads', () => standbys.flatMap((s) => s.events).find((e) => e.what === 'granted'), { timeoutMs: TTL * 1000 + 5000 });
      await waitFor('the expiry observed', () => expiredAt, { timeoutMs: 2000 });
      console.log(`      takeover with a paused member: ${granted.at - closedAt} ms after the close, ${granted.at - expiredAt} ms after the key expired (lease TTL ${TTL * 1000} ms)`);
      // A watch event, or at worst the next keepalive's re-read (TTL/5): not a read stuck on the paused member.
      assert.ok(granted.at - expiredAt <= 1000, `granted ${granted.at - expiredAt} ms after the old key expired`);
      await watcher.cancel();
    } finally {
      observer.close();
    }
  });
});
