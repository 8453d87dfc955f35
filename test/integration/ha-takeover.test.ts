import assert from 'node:assert/strict';
import type { Proc } from '../support/launcher.js';
import { haClusterPerTest, leaderOf } from '../support/ha-cluster.js';

/** When the process logged `msg` (pino's epoch-ms `time`), the first such line. */
async function loggedAt(proc: Proc, msg: string, timeoutMs: number): Promise<number> {
  const line = await proc.waitForLine((l) => l.includes(`"msg":"${msg}"`), timeoutMs);
  return (JSON.parse(line) as { time: number }).time;
}

describe('ha - takeover when the leader process is certainly dead', function () {
  this.timeout(60_000);
  const clusters = haClusterPerTest();

  it('a standby leads well within the lease after the leader is killed with SIGKILL (proof of death, not the lease)', async () => {
    // A 5 s lease: leading 2.5 s after the kill cannot be the lease running out.
    const cluster = await clusters.start({ masters: 2, taskExecutors: 0, env: { FLINKISH_LEASE_TTL_SECONDS: '5' } });
    const client = await cluster.client();
    const leader = await leaderOf(cluster, client);
    const standby = cluster.masters.find((m) => m !== leader)!;
    await standby.waitForLine((l) => l.includes('linked to the leader'), 10_000);
    const killedAt = Date.now();
    leader.kill('SIGKILL');
    const grantedAt = await loggedAt(standby, 'leadership granted', 10_000);
    assert.ok(grantedAt - killedAt < 2500, `led ${grantedAt - killedAt} ms after the kill; the lease is 5000 ms`);
    // Logged when etcd answers the revoking transaction, which may come after the watch event of
    // the deleted key that let the standby lead.
    await standby.waitForLine((l) => l.includes('revoked the term of a leader proven dead'), 5000);
    assert.equal(await leaderOf(cluster, client, leader), standby);
  });

  it('waits out the lease of a paused leader (no refusal, no proof), and the zombie steps down on SIGCONT', async () => {
    const cluster = await clusters.start({ masters: 2, taskExecutors: 0, env: { FLINKISH_LEASE_TTL_SECONDS: '3' } });
    const client = await cluster.client();
    const zombie = await leaderOf(cluster, client);
    const standby = cluster.masters.find((m) => m !== zombie)!;
    await standby.waitForLine((l) => l.includes('linked to the leader'), 10_000);
    const pausedAt = Date.now();
    await zombie.pause();
    const grantedAt = await loggedAt(standby, 'leadership granted', 15_000);
    // Its key expires with the lease (3 s), which the standby sees on its next read.
    assert.ok(grantedAt - pausedAt >= 2000, `led ${grantedAt - pausedAt} ms after the pause: before the lease could run out`);
    assert.ok(!standby.output.some((l) => l.includes('proven dead')), 'a paused leader is never proven dead');
    zombie.resume();
    await zombie.waitForLine((l) => l.includes('"msg":"leadership revoked"'), 10_000);
    assert.equal(await leaderOf(cluster, client, zombie), standby);
  });
});
