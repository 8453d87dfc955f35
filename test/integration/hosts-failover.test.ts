/**
 * An HA cluster across namespace hosts, with real etcd and real processes, and faults that only
 * several machines have: a host cut off the network, a host that dies with its disk.
 *
 * Layout and helpers: test/support/hosts-job.ts (etcd members and Masters on h1..h3, every
 * process with all three etcd endpoints; TaskExecutors on h4, h5 and the spare on h6; the object
 * store, where checkpoints go, on h7).
 * Each scenario runs the checkpointed keyed count into the transactional file sink and ends
 * with its output checked exactly once and the no-overlap audit of acting leaders.
 * Needs root, `ip` and `nft`: without them the `before` hook fails with the reason.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { droppedSession, events, LEASE_TTL_MS, leading, lines, loggedAt, useHostsJob } from '../support/hosts-job.js';
import { waitFor } from '../support/wait.js';

describe('hosts - HA failover across namespace hosts', function () {
  this.timeout(120_000);
  const h = useHostsJob();

  it("the leader's host cut off: the majority elects a new leader, the old one steps down first and rejoins after the heal; exactly once", async () => {
    // Every Master has all three etcd endpoints: the cut member is passed over (etcd-host-health.ts).
    const c = await h.start();
    const records = 25_000;
    const { output } = await h.submit(records);
    const leader = await waitFor('a leading Master', () => leading(c), { timeoutMs: 20_000 });
    // etcd's own leader elsewhere: what is measured is our election (a cut etcd leader adds etcd's election, ~1-2 s, and the lease extension of one election timeout).
    await c.moveEtcdLeaderAwayFrom(c.hostOf(leader));
    const cutAt = Date.now();
    const cut = await h.net.isolate(c.hostOf(leader));

    const next = await waitFor('a new leader on the majority side', () => c.masters.find((m) => m !== leader && (loggedAt(m, 'leadership granted')[0] ?? 0) > cutAt), { timeoutMs: 15_000 });
    const grantedAt = loggedAt(next, 'leadership granted')[0]!;
    const revokedAt = await waitFor('the isolated leader stepped down', () => loggedAt(leader, 'leadership revoked').find((t) => t > cutAt), { timeoutMs: 15_000 });
    // Safety, not speed: never two acting leaders. (How fast is the bench's to measure; the
    // target is the lease TTL + 1 s, and the figures are printed here for the record.)
    assert.ok(revokedAt < grantedAt, 'the isolated leader still led when the new one was granted');
    console.log(`      leader cut off: stepped down after ${revokedAt - cutAt} ms, new leader after ${grantedAt - cutAt} ms (lease TTL ${LEASE_TTL_MS} ms)`);

    const healingAt = Date.now();
    await cut.heal();
    const healedAt = Date.now();
    type Answer = { rest: string; isLeader: boolean | null; leader: string | null };
    const answers = (): Answer[] => {
      const last = events(h.job, 'masters').at(-1);
      return Number(last?.['time']) > healedAt ? (last!['masters'] as Answer[]) : [];
    };
    // After the heal the old leader rejoins: as a standby of the current leader, or as the leader
    // of a later term (when the majority's leader lost its lease meanwhile): never of its old one.
    await waitFor('every Master agreeing on one leader after the heal', () => {
      const now = answers();
      const leading = now.filter((a) => a.isLeader === true);
      const current = c.masters.find((m) => m.ready['rest'] === leading[0]?.rest);
      const old = now.find((a) => a.rest === leader.ready['rest']);
      return (
        now.length === c.masters.length &&
        leading.length === 1 &&
        current !== undefined &&
        old !== undefined &&
        now.every((a) => a.isLeader === true || a.leader === current.ready['node'])
      );
    }, { timeoutMs: 20_000 }).catch((err: Error) => {
      throw new Error(`${err.message}; the Masters answer: ${JSON.stringify(answers())}`);
    });
    assert.deepEqual(loggedAt(leader, 'leadership granted').filter((t) => t > cutAt && t < healingAt), [], 'the isolated leader led while cut off');
    await h.finishedExactlyOnce(output, records);
    await h.auditLeaders();
  });

  it("a TaskExecutor's host cut off: its subtasks restart on the spare; after the heal its stale tasks are canceled and commit nothing", async () => {
    const c = await h.start();
    const records = 25_000;
    const { output } = await h.submit(records);
    const { victim, victimId, spareId } = h.victim();
    const cutAt = Date.now();
    const cut = await h.net.isolate(c.hostOf(victim));
    await h.runningOnSpare(cutAt, victimId, spareId);
    // Cut off, it loses the ResourceManager and cancels what it ran for the job.
    await waitFor('the cut TaskExecutor dropped its tasks', () => droppedSession(victim, cutAt), { timeoutMs: 20_000 });
    // Taken before the heal: the TaskExecutor may register while heal() is still returning.
    const healingAt = Date.now();
    await cut.heal();
    await waitFor('the healed TaskExecutor registered again', () => lines(victim).some((l) => l['msg'] === 'registered' && Number(l['time']) > healingAt), { timeoutMs: 20_000 });
    await h.finishedExactlyOnce(output, records);
    await h.auditLeaders();
  });

  it("a TaskExecutor's host killed, disk included: the job recovers on the other hosts, exactly once", async () => {
    const c = await h.start();
    const records = 25_000;
    const { output } = await h.submit(records);
    const { victim, victimId, spareId } = h.victim();
    const host = c.hostOf(victim);
    const killedAt = Date.now();
    await host.kill();
    assert.equal(existsSync(host.dataDir), false, "the host's disk is gone");
    await h.runningOnSpare(killedAt, victimId, spareId);
    const result = await h.finishedExactlyOnce(output, records);
    assert.notEqual(result['restoredFrom'], null, 'the job resumed from a checkpoint, downloaded from the object store on its own host');
    await h.auditLeaders();
  });
});
