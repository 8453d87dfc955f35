/**
 * Partitions across namespace hosts that cut less than a whole host from the cluster: one etcd
 * member's host (the quorum stays), and a one-way link between the leader and a TaskExecutor.
 *
 * Layout and helpers: test/support/hosts-job.ts (etcd members and Masters on h1..h3, every
 * process with all three etcd endpoints; TaskExecutors on h4, h5 and the spare on h6). Each
 * scenario runs the checkpointed keyed count into the transactional file sink and ends with its
 * output checked exactly once and the no-overlap audit of acting leaders.
 * Needs root, `ip` and `nft`: without them the `before` hook fails with the reason.
 */
import assert from 'node:assert/strict';
import { droppedSession, events, LEASE_TTL_MS, leading, lines, useHostsJob } from '../support/hosts-job.js';
import { waitFor } from '../support/wait.js';

describe('hosts - partitions across namespace hosts', function () {
  this.timeout(120_000);
  const h = useHostsJob();

  /** The latest status the client printed. */
  const status = (): Record<string, unknown> => events(h.job, 'status').at(-1) ?? {};
  const checkpoints = (): number => Number(status()['checkpoints'] ?? 0);

  it("one etcd member's host cut off (not the leader's): no leader change, no job restart, during the partition or after the heal; exactly once", async () => {
    const c = await h.start();
    const records = 45_000; // ≥ 18 s of input: the partition and the heal happen while it runs
    const { output } = await h.submit(records);
    const leader = await waitFor('a leading Master', () => leading(c), { timeoutMs: 20_000 });
    // A member away from the leader, and not etcd's own leader: losing that one costs an etcd
    // election first (no lease renewed by anyone for 1-2 s), which is another fault.
    const memberHost = c.masters.map((m) => c.hostOf(m)).find((host) => host !== c.hostOf(leader))!;
    await c.moveEtcdLeaderAwayFrom(memberHost);
    const before = checkpoints();
    const cutAt = Date.now();
    const cut = await h.net.isolate(memberHost);
    // Three lease TTLs cut off, with the job checkpointing through them (every checkpoint is an
    // etcd write of the leader, on a client that has the cut member among its endpoints).
    await waitFor('three lease TTLs of partition, checkpoints completing', () => Date.now() - cutAt >= 3 * LEASE_TTL_MS && checkpoints() >= before + 5, { timeoutMs: 30_000 });
    assert.equal(status()['state'], 'running', 'the job ended before the heal: give it more records');
    await cut.heal();
    console.log(`      etcd member cut off for ${Date.now() - cutAt} ms`);
    const healed = checkpoints();
    await waitFor('checkpoints after the heal', () => checkpoints() >= healed + 3 || events(h.job, 'result').length > 0, { timeoutMs: 20_000 });

    const result = await h.finishedExactlyOnce(output, records);
    assert.equal(result['attempt'], 0, `the job restarted: ${JSON.stringify(result)}`);
    assert.ok(events(h.job, 'status').every((s) => Number(s['attempt'] ?? 0) === 0), 'a status showed a later attempt');
    const actions = await h.auditLeaders();
    const sessions = new Set(actions.map((a) => a.sessionId));
    assert.equal(sessions.size, 1, `the leader changed: sessions ${[...sessions].join(', ')}`);
    assert.ok(actions.every((a) => a.master === leader.name), `another Master acted as leader: ${[...new Set(actions.map((a) => a.master))].join(', ')}`);
  });

  it('a one-way partition, leader to TaskExecutor dropped (the TaskExecutor still reaches the leader): heartbeats notice, the job restarts on the spare, the stale tasks commit nothing; exactly once', async () => {
    const c = await h.start();
    const records = 25_000;
    const { output } = await h.submit(records);
    const leader = await waitFor('a leading Master', () => leading(c), { timeoutMs: 20_000 });
    const { victim, victimId, spareId } = h.victim();
    const cutAt = Date.now();
    const cut = await h.net.partition(c.hostOf(leader), c.hostOf(victim), { oneWay: true });

    // Neither side hears the other's heartbeats: the TaskExecutor gets nothing from the leader,
    // and the leader's requests (hence their answers) never reach it.
    const lost = await waitFor('the leader lost the TaskExecutor', () => lines(leader).find((l) => l['msg'] === 'TaskExecutor lost' && l['taskExecutor'] === victimId && Number(l['time']) > cutAt), { timeoutMs: 20_000 });
    await waitFor('the TaskExecutor lost the ResourceManager (and dropped its tasks)', () => droppedSession(victim, cutAt), { timeoutMs: 20_000 });
    console.log(`      one-way partition: the leader lost the TaskExecutor after ${Number(lost['time']) - cutAt} ms (${String(lost['reason'])})`);
    await h.runningOnSpare(cutAt, victimId, spareId);

    // Taken before the heal: the TaskExecutor may register while heal() is still returning.
    const healingAt = Date.now();
    await cut.heal();
    await waitFor('the healed TaskExecutor registered again', () => lines(victim).some((l) => l['msg'] === 'registered' && Number(l['time']) > healingAt), { timeoutMs: 20_000 });
    const result = await h.finishedExactlyOnce(output, records);
    assert.notEqual(result['restoredFrom'], null, 'the job resumed from a checkpoint');
    await h.auditLeaders();
  });
});
