import assert from 'node:assert/strict';
import path from 'node:path';
import { checkExactlyOnce } from '../../scripts/support/exactly-once.js';
import { unpace, unpacedFileOf } from '../../scripts/support/unpace.js';
import { distRoot } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';
import { haClusterPerTest } from '../support/ha-cluster.js';

const keyedCount = path.join(distRoot, 'scripts', 'jobs', 'keyed-count.js');

describe('ha - attempts across leaders', function () {
  this.timeout(120_000);
  const clusters = haClusterPerTest();

  it('continues attempt numbers and restart counts under a new leader after a TaskExecutor kill; a leader kill keeps the attempt (adopted)', async () => {
    const cluster = await clusters.start({ masters: 2, taskExecutors: 2, slots: 2 });
    const client = await cluster.client();
    const leader = await waitFor('a leader', () => cluster!.leader(client), { timeoutMs: 20_000 });
    const output = path.join(cluster.workDir, 'out');
    const records = 30_000;
    const jobId = await client.submitFile(keyedCount, { parallelism: 2, args: { records, keys: 10, output, recordsPerSecond: 3000, checkpointMs: 200, unpacedBy: unpacedFileOf(output) } });
    const runningAt = (attempt: number) =>
      waitFor(`attempt ${attempt} running with a checkpoint`, async () => {
        const d = await client.status(jobId);
        const running = d.state === 'running' && d.subtasks.every((s) => s.state === 'running');
        return running && d.attempt >= attempt && d.checkpoints.some((c) => c.status === 'completed') ? d : undefined;
      }, { timeoutMs: 30_000 });
    const first = await runningAt(0);
    assert.equal(first.attempt, 0);

    // A TaskExecutor of the job dies: attempt 1, one restart (a spare takes over).
    const teId = first.subtasks[0]!.taskExecutorId;
    await cluster.startTaskExecutor();
    cluster.taskExecutors.find((p) => p.name === `taskexecutor-${teId}`)!.kill('SIGKILL');
    const second = await runningAt(1);
    assert.equal(second.attempt, 1);
    assert.equal(second.restarts, 1);

    // The leader dies: the new leader adopts attempt 1 as it runs, and counts the restart before.
    leader.kill('SIGKILL');
    await waitFor('a new leader', () => {
      const now = cluster!.leader(client);
      return now && now !== leader ? now : undefined;
    }, { timeoutMs: 20_000 });
    const third = await waitFor('the job adopted by the new leader', async () => {
      const d = await client.status(jobId);
      return d.failovers?.some((f) => f.adopted) && d.state === 'running' ? d : undefined;
    }, { timeoutMs: 30_000 });
    assert.equal(third.attempt, 1, 'the new leader adopted the attempt recorded in etcd');
    assert.equal(third.restarts, 1);

    unpace(output);
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.equal(result.details.attempt, 1);
    assert.deepEqual(checkExactlyOnce(output, records, 10), []);
  });
});
