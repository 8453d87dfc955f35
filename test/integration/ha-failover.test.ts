import assert from 'node:assert/strict';
import path from 'node:path';
import { ClusterClient } from '../../lib/client/cluster-client.js';
import { checkExactlyOnce } from '../../scripts/support/exactly-once.js';
import { distRoot } from '../support/launcher.js';
import { firstCheckpoint, haClusterPerTest, leaderOf } from '../support/ha-cluster.js';

const keyedCount = path.join(distRoot, 'scripts', 'jobs', 'keyed-count.js');

describe('ha - Master failover', function () {
  this.timeout(120_000);
  const clusters = haClusterPerTest();

  it('lets a standby take over when the leader is killed with SIGKILL; it adopts the running job (attempt unchanged), which finishes exactly once', async () => {
    const cluster = await clusters.start({ masters: 2, taskExecutors: 2, slots: 2 });
    const client = await cluster.client();
    const leader = await leaderOf(cluster, client);
    const output = path.join(cluster.workDir, 'out');
    const records = 30_000;
    const jobId = await client.submitFile(keyedCount, { args: { records, keys: 10, output, recordsPerSecond: 5000, checkpointMs: 200 } });
    await firstCheckpoint(client, jobId);
    leader.kill('SIGKILL');
    const next = await leaderOf(cluster, client, leader);
    assert.notEqual(next, leader);
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.equal(result.details.attempt, 0, 'the tasks ran on: no restart, no new attempt');
    assert.equal(result.details.restarts, 0);
    assert.deepEqual(result.details.failovers?.map((f) => f.adopted), [true], JSON.stringify(result.details.failovers));
    assert.deepEqual(checkExactlyOnce(output, records, 10), []);
  });

  it('fences a paused leader: past its lease it loses leadership, and on SIGCONT it stands by', async () => {
    const cluster = await clusters.start({ masters: 2, taskExecutors: 2, slots: 2 });
    const client = await cluster.client();
    const zombie = await leaderOf(cluster, client);
    const output = path.join(cluster.workDir, 'out');
    const records = 30_000;
    const jobId = await client.submitFile(keyedCount, { args: { records, keys: 10, output, recordsPerSecond: 5000, checkpointMs: 200 } });
    await firstCheckpoint(client, jobId);
    zombie.pause();
    const next = await leaderOf(cluster, client, zombie);
    zombie.resume();
    // Awake again, it must find out it no longer leads before doing anything as leader.
    await zombie.waitForLine((line) => line.includes('leadership revoked'), 15_000);
    const direct = await ClusterClient.connect({
      masterAddress: String(zombie.ready['node']),
      clusterId: cluster.env['FLINKISH_CLUSTER_ID']!,
      clientSecret: cluster.env['FLINKISH_CLIENT_SECRET']!,
      failoverTimeoutMs: 1,
    });
    try {
      await assert.rejects(direct.list(), { code: 'NOT_LEADER' });
    } finally {
      await direct.close();
    }
    assert.equal(cluster.leader(client), next);
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.deepEqual(checkExactlyOnce(output, records, 10), []);
  });

  it('keeps running a job without interruption when one of three etcd members is killed', async () => {
    const cluster = await clusters.start({ etcdMembers: 3, masters: 2, taskExecutors: 2, slots: 2, env: { FLINKISH_LEASE_TTL_SECONDS: '5' } });
    const client = await cluster.client();
    await leaderOf(cluster, client);
    const output = path.join(cluster.workDir, 'out');
    const records = 20_000;
    const jobId = await client.submitFile(keyedCount, { args: { records, keys: 10, output, recordsPerSecond: 5000, checkpointMs: 200 } });
    await firstCheckpoint(client, jobId);
    cluster.etcd.members[0]!.kill('SIGKILL');
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.equal(result.details.attempt, 0, 'no restart was needed');
    assert.ok(result.details.checkpoints.filter((c) => c.status === 'completed').length >= 2);
    assert.deepEqual(checkExactlyOnce(output, records, 10), []);
  });

  it('stops leading cleanly when etcd loses quorum, and leads again when quorum returns; the job finishes exactly once', async () => {
    const cluster = await clusters.start({ etcdMembers: 3, masters: 2, taskExecutors: 2, slots: 2 });
    const client = await cluster.client();
    const leader = await leaderOf(cluster, client);
    const output = path.join(cluster.workDir, 'out');
    const records = 30_000;
    const jobId = await client.submitFile(keyedCount, { args: { records, keys: 10, output, recordsPerSecond: 3000, checkpointMs: 200 } });
    await firstCheckpoint(client, jobId);
    const [a, b] = cluster.etcd.members;
    a!.kill('SIGKILL');
    b!.kill('SIGKILL');
    // Without quorum no lease can be renewed: the leader must step down before its lease could expire.
    await leader.waitForLine((line) => line.includes('leadership revoked'), 15_000);
    await Promise.all([a!.restart(), b!.restart()]);
    await cluster.etcd.waitHealthy(20_000);
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    // Its tasks ran on through the outage: the leader of the next term adopts them (or, past
    // adoptionTimeoutMs, they were cancelled and it restarts the job from a checkpoint).
    const adopted = result.details.failovers?.some((f) => f.adopted) === true;
    assert.ok(adopted || result.details.restoredFrom !== null, JSON.stringify(result.details.failovers));
    if (adopted) assert.equal(result.details.attempt, 0, 'adopted: the attempt ran on');
    assert.deepEqual(checkExactlyOnce(output, records, 10), []);
  });
});
