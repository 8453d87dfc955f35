/**
 * A new leader adopts only what still runs in full: a TaskExecutor killed while there is no
 * leader leaves subtasks that nobody reports, so the new leader restarts the job from its
 * latest checkpoint (the survivors' kept tasks are cancelled) instead of adopting it.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { checkExactlyOnce } from '../../scripts/support/exactly-once.js';
import { distRoot } from '../support/launcher.js';
import { firstCheckpoint, haClusterPerTest, leaderOf } from '../support/ha-cluster.js';

const keyedCount = path.join(distRoot, 'scripts', 'jobs', 'keyed-count.js');

describe('ha - adoption by a new leader', function () {
  this.timeout(120_000);
  const clusters = haClusterPerTest();

  it('restarts from the latest checkpoint instead of adopting when a TaskExecutor dies during the leaderless window', async () => {
    const cluster = await clusters.start({ masters: 2, taskExecutors: 2, slots: 2, env: { FLINKISH_RECONCILE_TIMEOUT_MS: '1500' } });
    const client = await cluster.client();
    const leader = await leaderOf(cluster, client);
    const output = path.join(cluster.workDir, 'out');
    const records = 15_000;
    const jobId = await client.submitFile(keyedCount, { parallelism: 2, args: { records, keys: 10, output, recordsPerSecond: 5000, checkpointMs: 200 } });
    await firstCheckpoint(client, jobId);
    const running = await client.status(jobId);
    const victim = running.subtasks[0]!.taskExecutorId!;
    // The same instant: the TaskExecutor is gone before any new leader can hear from it.
    leader.kill('SIGKILL');
    cluster.taskExecutors.find((p) => p.name === `taskexecutor-${victim}`)!.kill('SIGKILL');
    await leaderOf(cluster, client, leader);
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.deepEqual(result.details.failovers?.map((f) => f.adopted), [false], JSON.stringify(result.details.failovers));
    assert.match(result.details.failovers![0]!.reason, /not reported running within 1500 ms/);
    assert.ok(result.details.attempt >= 1, 'an attempt after the one recorded');
    assert.ok(result.details.restoredFrom !== null, 'restarted from a checkpoint');
    assert.deepEqual(checkExactlyOnce(output, records, 10), []);
  });
});
