import assert from 'node:assert/strict';
import path from 'node:path';
import { ClusterClient } from '../../lib/client/cluster-client.js';
import { checkExactlyOnce } from '../../scripts/support/exactly-once.js';
import { unpace, unpacedFileOf } from '../../scripts/support/unpace.js';
import { distRoot } from '../support/launcher.js';
import { firstCheckpoint, haClusterPerTest, leaderOf } from '../support/ha-cluster.js';
import { ActorSystem } from '../../lib/index.js';
import type { TaskExecutorMessage } from '../../actors/taskexecutor/protocol.js';
import { waitFor } from '../support/wait.js';

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
    const jobId = await client.submitFile(keyedCount, { args: { records, keys: 10, output, recordsPerSecond: 5000, checkpointMs: 200, unpacedBy: unpacedFileOf(output) } });
    await firstCheckpoint(client, jobId);
    leader.kill('SIGKILL');
    const next = await leaderOf(cluster, client, leader);
    assert.notEqual(next, leader);
    await waitFor('the new leader to adopt the job', async () => ((await client.status(jobId)).failovers?.length ?? 0) > 0, { timeoutMs: 20_000 });
    unpace(output);
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.equal(result.details.attempt, 0, 'the tasks ran on: no restart, no new attempt');
    assert.equal(result.details.restarts, 0);
    assert.deepEqual(result.details.failovers?.map((f) => f.adopted), [true], JSON.stringify(result.details.failovers));
    assert.deepEqual(checkExactlyOnce(output, records, 10), []);
  });

  it('fences a paused leader: past its lease it loses leadership, the new leader adopts the job, and on SIGCONT its commands are refused by the tasks', async () => {
    const cluster = await clusters.start({ masters: 2, taskExecutors: 2, slots: 2 });
    const client = await cluster.client();
    const zombie = await leaderOf(cluster, client);
    const output = path.join(cluster.workDir, 'out');
    const records = 30_000;
    const jobId = await client.submitFile(keyedCount, { args: { records, keys: 10, output, recordsPerSecond: 5000, checkpointMs: 200, unpacedBy: unpacedFileOf(output) } });
    await firstCheckpoint(client, jobId);
    const { leaderSessionId: zombieSession } = await client.overview();
    await zombie.pause();
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
    const adopted = await waitFor('the job adopted by the new leader', async () => {
      const d = await client.status(jobId);
      return d.failovers?.some((f) => f.adopted) ? d : undefined;
    }, { timeoutMs: 20_000 });
    assert.equal(adopted.attempt, 0);

    // What the zombie could still send (it holds the node secret, and its term's session): every
    // TaskExecutor refuses it, since it accepted the newer session. Were one obeyed, the job
    // would lose its slots or commit early: it would restart, or its output would not be exactly once.
    const zombieNode = await ActorSystem.start({ clusterId: cluster.env['FLINKISH_CLUSTER_ID']!, secret: cluster.env['FLINKISH_SECRET']!, listen: false });
    try {
      for (const te of cluster.taskExecutors) {
        const ref = zombieNode.ref<TaskExecutorMessage>(te.ready['node'] as string, 'taskexecutor');
        const executionId = adopted.subtasks[0]!.executionId;
        ref.tell({ type: 'te.checkpoint.trigger', leaderSessionId: zombieSession, executionId, checkpointId: 1_000_000, options: { savepoint: false, dir: cluster.workDir } });
        ref.tell({ type: 'te.checkpoint.notify', leaderSessionId: zombieSession, jobId, attempt: 0, checkpointId: 1_000_000, outcome: 'complete' });
        ref.tell({ type: 'te.task.cancel', leaderSessionId: zombieSession, executionId });
        ref.tell({ type: 'te.slots.free', leaderSessionId: zombieSession, jobId });
        await assert.rejects(ref.ask({ type: 'te.heartbeat', leaderSessionId: zombieSession }, { timeoutMs: 5000 }), { code: 'STALE_LEADER' });
        for (const type of ['te.checkpoint.trigger', 'te.checkpoint.notify', 'te.task.cancel', 'te.slots.free']) {
          await te.waitForLine((line) => line.includes('STALE_LEADER') && line.includes(type), 5000);
        }
      }
    } finally {
      await zombieNode.terminate();
    }
    unpace(output);
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.equal(result.details.attempt, 0, 'the new leader adopted the tasks that ran on, and nothing of the zombie stopped them');
    assert.deepEqual(result.details.failovers?.map((f) => f.adopted), [true]);
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
    const jobId = await client.submitFile(keyedCount, { args: { records, keys: 10, output, recordsPerSecond: 3000, checkpointMs: 200, unpacedBy: unpacedFileOf(output) } });
    await firstCheckpoint(client, jobId);
    const [a, b] = cluster.etcd.members;
    a!.kill('SIGKILL');
    b!.kill('SIGKILL');
    // Without quorum no lease can be renewed: the leader must step down before its lease could expire.
    await leader.waitForLine((line) => line.includes('leadership revoked'), 15_000);
    await Promise.all([a!.restart(), b!.restart()]);
    await cluster.etcd.waitHealthy(20_000);
    unpace(output);
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
