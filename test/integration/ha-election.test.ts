import assert from 'node:assert/strict';
import { launch, killAll, type Proc } from '../support/launcher.js';
import { useEtcd, uniqueClusterId } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';
import { SimulatedClock } from '../../lib/util/simulated-clock.js';
import { EtcdHaServices, etcdCredentialEnv, type EtcdClusterAccess, FencingError, HaErrorCode, HaKeys, fencedTxn, type EtcdLeaderElection, type LeaderInfo } from '../../lib/ha/index.js';

const TTL = 3;

/** An in-process contender that records what it was told. */
class Contender {
  readonly ha: EtcdHaServices;
  readonly election: EtcdLeaderElection;
  sessionId: string | null = null;
  readonly history: string[] = [];
  grantedAt = 0;

  constructor(etcd: EtcdClusterAccess, clusterId: string, readonly address: string) {
    this.ha = new EtcdHaServices({ ...etcd, clusterId, leaseTtlSeconds: TTL });
    this.election = this.ha.leaderElection();
  }

  campaign(): this {
    this.election.campaign(
      {
        grantLeadership: (sessionId) => {
          this.sessionId = sessionId;
          this.grantedAt = Date.now();
          this.history.push(`granted:${sessionId}`);
        },
        revokeLeadership: () => {
          this.sessionId = null;
          this.history.push('revoked');
        },
      },
      this.address,
    );
    return this;
  }
}

function lines(proc: Proc, from = 0): Array<Record<string, unknown>> {
  return proc.output
    .slice(from)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function launchContender(etcd: EtcdClusterAccess, clusterId: string, address: string): Promise<Proc> {
  return launch('test/support/etcd.js', {
    args: ['contender'],
    env: { ETCD_ENDPOINTS: etcd.endpoints.join(','), ...etcdCredentialEnv(etcd), CLUSTER_ID: clusterId, ADDRESS: address, LEASE_TTL: String(TTL) },
    name: address,
  });
}

describe('ha election (real etcd)', function () {
  this.timeout(60_000);
  const etcd = useEtcd(1);
  const contenders: Contender[] = [];
  const measured: string[] = [];

  function contender(clusterId: string, address: string): Contender {
    const c = new Contender(etcd.cluster.clientOptions, clusterId, address);
    contenders.push(c);
    return c;
  }

  afterEach(async () => {
    await Promise.all(contenders.splice(0).map((c) => c.ha.close()));
    await killAll();
  });

  after(() => {
    if (measured.length > 0) console.log(`      failover times: ${measured.join(', ')}`);
  });

  it('election - one of three contenders leads; session ids increase across terms', async () => {
    const id = uniqueClusterId();
    const all = ['a', 'b', 'c'].map((name) => contender(id, name).campaign());
    const sessions: string[] = [];
    for (let term = 0; term < 3; term++) {
      const leader = await waitFor('one leader', () => {
        const leaders = all.filter((c) => c.sessionId !== null);
        assert.ok(leaders.length <= 1, `two leaders at once: ${leaders.map((l) => l.address).join(',')}`);
        return leaders[0];
      });
      sessions.push(leader.sessionId!);
      await leader.election.resign();
      assert.equal(leader.sessionId, null);
    }
    assert.equal(new Set(sessions).size, 3);
    assert.deepEqual([...sessions].sort(), sessions, `session ids not increasing: ${sessions.join(' ')}`);
    assert.ok(sessions.every((s) => /^\d{20}$/.test(s)));
  });

  it('election - a leader that closes without resigning is replaced within TTL + margin', async () => {
    const id = uniqueClusterId();
    const a = contender(id, 'a').campaign();
    await waitFor('a leads', () => a.sessionId);
    const b = contender(id, 'b').campaign();
    const closedAt = Date.now();
    await a.election.close();
    await waitFor('b leads', () => b.sessionId, { timeoutMs: TTL * 1000 + 3000 });
    measured.push(`close-without-resign ${b.grantedAt - closedAt} ms`);
    assert.ok(b.sessionId! > a.history[0]!.slice('granted:'.length));
  });

  it('election - a contender process killed with SIGKILL is replaced within TTL + margin', async () => {
    const id = uniqueClusterId();
    const child = await launchContender(etcd.cluster.clientOptions, id, 'child');
    await child.waitForLine((l) => l.includes('"granted"'), 10_000);
    const b = contender(id, 'b').campaign();
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await waitFor('b leads', () => b.sessionId, { timeoutMs: TTL * 1000 + 3000 });
    measured.push(`SIGKILL ${b.grantedAt - killedAt} ms`);
  });

  it('election - a paused leader revokes its leadership and its guarded writes are fenced', async () => {
    const id = uniqueClusterId();
    const child = await launchContender(etcd.cluster.clientOptions, id, 'child');
    const granted = await child.waitForLine((l) => l.includes('"granted"'), 10_000);
    const childSession = (JSON.parse(granted) as { sessionId: string }).sessionId;
    await child.waitForLine((l) => l.includes('"write","ok":true'), 5000);
    const b = contender(id, 'b').campaign();
    const pausedAt = Date.now();
    await child.pause();
    await waitFor('b leads', () => b.sessionId, { timeoutMs: TTL * 1000 + 3000 });
    measured.push(`SIGSTOP ${b.grantedAt - pausedAt} ms`);
    assert.ok(b.sessionId! > childSession);
    const graphs = b.ha.jobGraphStore(b.election.guard());
    await graphs.put('probe', { by: 'b', sessionId: b.sessionId });

    const resumedFrom = child.output.length;
    child.resume();
    await child.waitForLine((l) => l.includes('"revoked"'), 5000);
    await waitFor('a fenced write by the old leader', () =>
      lines(child, resumedFrom).find((e) => e['event'] === 'write' && e['ok'] === false),
    );
    const after = lines(child, resumedFrom).filter((e) => e['event'] === 'write');
    assert.ok(after.every((e) => e['ok'] === false && e['code'] === HaErrorCode.LeadershipLost), JSON.stringify(after));
    assert.deepEqual(await graphs.get('probe'), { by: 'b', sessionId: b.sessionId });
    assert.ok(b.sessionId !== null, 'the new leader kept its leadership');
  });

  it('election - etcd itself rejects a write guarded by a term whose key is gone', async () => {
    const id = uniqueClusterId();
    const a = contender(id, 'a').campaign();
    await waitFor('a leads', () => a.sessionId);
    const guard = a.election.guard()!;
    // A guard that cannot check locally, as a process that has not yet noticed anything.
    const blind = { ...guard, check: () => undefined };
    await a.ha.root.delete().key(guard.leaderKey);
    await assert.rejects(
      fencedTxn(a.ha.root, blind, 'test write', [a.ha.root.put(HaKeys.jobGraph('x')).value('y')]),
      (err: unknown) => err instanceof FencingError && err.details['reason'] === 'rejected-by-etcd',
    );
    assert.equal(await a.ha.root.get(HaKeys.jobGraph('x')).string(), null);
    await waitFor('a notices', () => a.history.includes('revoked'));
  });

  it('election - on a simulated clock, a leader whose keepalives go unconfirmed (etcd paused) steps down at 2/3 of the TTL of that clock, not before', async () => {
    const clock = new SimulatedClock();
    const ha = new EtcdHaServices({ ...etcd.cluster.clientOptions, clusterId: uniqueClusterId(), leaseTtlSeconds: TTL, clock });
    const history: string[] = [];
    const election = ha.leaderElection();
    election.campaign({ grantLeadership: () => history.push('granted'), revokeLeadership: () => history.push('revoked') }, 'simulated');
    // The grant needs no time to pass: only etcd's answers.
    await waitFor('leadership granted', () => history.includes('granted'));
    const member = etcd.cluster.members[0]!;
    await member.pause();
    try {
      // Its keepalives (every TTL/5 of the clock) now get no answer; it must not lead past 2/3 TTL of its last confirmation (the grant).
      const vouchedMs = (TTL * 1000 * 2) / 3;
      await clock.advance(vouchedMs - 100);
      assert.deepEqual(history, ['granted'], 'still vouched for');
      assert.ok(election.isLeader());
      await clock.advance(100);
      assert.deepEqual(history, ['granted', 'revoked'], 'stepped down at 2/3 TTL of simulated time');
      assert.equal(election.guard(), null);
    } finally {
      member.resume();
      await ha.close();
    }
  });

  it('retrieval - follows leader changes', async () => {
    const id = uniqueClusterId();
    const observer = contender(id, 'observer');
    const retrieval = observer.ha.leaderRetrieval();
    const seen: Array<LeaderInfo | null> = [];
    retrieval.start((leader) => seen.push(leader));
    await waitFor('no leader reported', () => seen.length > 0);
    assert.equal(seen[0], null);
    const a = contender(id, 'addr-a').campaign();
    await waitFor('a leads', () => a.sessionId);
    const b = contender(id, 'addr-b').campaign();
    await waitFor('retrieval sees a', () => retrieval.current()?.address === 'addr-a');
    assert.equal(retrieval.current()?.sessionId, a.sessionId);
    await a.election.resign();
    await waitFor('retrieval sees b', () => retrieval.current()?.address === 'addr-b');
    assert.equal(retrieval.current()?.sessionId, b.sessionId);
    await b.election.resign();
    await waitFor('retrieval sees none', () => retrieval.current() === null);
  });
});
