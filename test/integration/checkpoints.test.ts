import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { checkExactlyOnce } from '../../scripts/support/exactly-once.js';
import { unpace, unpacedFileOf } from '../../scripts/support/unpace.js';
import { distRoot } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';
import { haClusterPerTest } from '../support/ha-cluster.js';

const job = (name: string) => path.join(distRoot, 'scripts', 'jobs', `${name}.js`);

function completed(details: { checkpoints: Array<{ status: string; id: number }> }): number[] {
  return details.checkpoints.filter((c) => c.status === 'completed').map((c) => c.id);
}

describe('checkpoints - recovery with exactly-once output', function () {
  this.timeout(180_000);
  const clusters = haClusterPerTest();

  it('survives three TaskExecutors killed with SIGKILL mid-run, a spare taking over each time', async () => {
    const cluster = await clusters.start({ masters: 1, taskExecutors: 3, slots: 2 });
    const client = await cluster.client();
    await waitFor('6 slots', async () => (await client.overview()).slotsTotal === 6, { timeoutMs: 20_000 });
    const output = path.join(cluster.workDir, 'out');
    const records = 36_000;
    const keys = 16;
    const jobId = await client.submitFile(job('keyed-count'), {
      parallelism: 2,
      args: { records, keys, output, recordsPerSecond: 3000, checkpointMs: 200, unpacedBy: unpacedFileOf(output) },
    });
    for (let kill = 1; kill <= 3; kill++) {
      // Each kill after fresh progress: a checkpoint completed in the current attempt.
      const details = await waitFor(`progress before kill ${kill}`, async () => {
        const d = await client.status(jobId);
        const fresh = d.checkpoints.some((c) => c.status === 'completed' && d.subtasks.every((s) => s.state === 'running'));
        return d.state === 'running' && fresh && d.attempt === kill - 1 ? d : undefined;
      }, { timeoutMs: 30_000, intervalMs: 50 });
      const victimId = details.subtasks[0]!.taskExecutorId!;
      const victim = cluster.taskExecutors.find((p) => p.running && p.name === `taskexecutor-${victimId}`)!;
      assert.ok(victim, `TaskExecutor ${victimId} runs`);
      victim.kill('SIGKILL');
      await cluster.startTaskExecutor(); // the next spare
    }
    unpace(output);
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.ok(result.details.restarts >= 3, `restarted ${result.details.restarts} times`);
    assert.deepEqual(checkExactlyOnce(output, records, keys), []);
  });

  it('takes a savepoint at parallelism 2 and restores it at parallelism 3 (its split source too) with the same results', async () => {
    const cluster = await clusters.start({ masters: 1, taskExecutors: 2, slots: 3 });
    const client = await cluster.client();
    const output = path.join(cluster.workDir, 'out');
    const records = 20_000;
    const keys = 12;
    const args = { records, keys, output, recordsPerSecond: 4000, checkpointMs: 200, unpacedBy: unpacedFileOf(output) };
    const first = await client.submitFile(job('keyed-count'), { parallelism: 2, args: { ...args, sourceParallelism: 2 } });
    await waitFor('a checkpoint', async () => completed(await client.status(first)).length > 0, { timeoutMs: 30_000 });
    const { path: savepoint } = await client.savepoint(first, { stop: true });
    assert.ok(existsSync(path.join(savepoint, '_metadata')));
    const stopped = await client.waitForResult(first);
    assert.equal(stopped.state, 'finished', 'a stop-with-savepoint ends the job as asked');
    assert.equal(stopped.stoppedWithSavepoint, savepoint);
    unpace(output); // the resumed run need not be paced
    const second = await client.submitFile(job('keyed-count'), { parallelism: 3, args: { ...args, sourceParallelism: 3 }, fromSavepoint: savepoint });
    const result = await client.waitForResult(second);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.equal(result.details.vertices.find((v) => v.name === 'count -> files')?.parallelism ?? result.details.vertices[1]!.parallelism, 3);
    assert.deepEqual(checkExactlyOnce(output, records, keys), []);
  });

  it('aborts a checkpoint that times out and removes its files', async () => {
    const cluster = await clusters.start({ masters: 1, taskExecutors: 1, slots: 2 });
    const client = await cluster.client();
    const jobId = await client.submitFile(job('slow-checkpoints'), { args: { timeoutMs: 50 } });
    const details = await waitFor('an aborted checkpoint', async () => {
      const d = await client.status(jobId);
      return d.checkpoints.some((c) => c.status === 'aborted') ? d : undefined;
    }, { timeoutMs: 30_000 });
    const aborted = details.checkpoints.find((c) => c.status === 'aborted')!;
    assert.match(aborted.reason ?? '', /timed out/);
    const dir = path.join(cluster.workDir, 'checkpoints', jobId, `chk-${aborted.id}`);
    await waitFor('its files to be removed', () => !existsSync(dir), { timeoutMs: 10_000 });
    await client.cancel(jobId);
  });

  it('fails checkpoints cleanly while etcd is unreachable, and completes them again when it is back', async () => {
    // A long lease, so that the leader keeps its term through the outage: this is about checkpoints.
    const cluster = await clusters.start({ masters: 1, taskExecutors: 1, slots: 2, env: { FLINKISH_LEASE_TTL_SECONDS: '20' } });
    const client = await cluster.client();
    const output = path.join(cluster.workDir, 'out');
    const records = 40_000;
    const jobId = await client.submitFile(job('keyed-count'), { args: { records, keys: 8, output, recordsPerSecond: 4000, checkpointMs: 200, unpacedBy: unpacedFileOf(output) } });
    await waitFor('a checkpoint', async () => completed(await client.status(jobId)).length > 0, { timeoutMs: 30_000 });
    const etcd = cluster.etcd.members[0]!;
    await etcd.pause();
    let before: number[] = [];
    try {
      before = completed(await client.status(jobId));
      // Checkpoints fail (no id can be drawn, or the metadata cannot be stored) and are reported.
      const failed = await waitFor('a failed checkpoint', async () => {
        const d = await client.status(jobId);
        return d.checkpoints.find((c) => (c.status === 'failed' || c.status === 'aborted') && c.triggeredAt > Date.now() - 8000);
      }, { timeoutMs: 8000 });
      assert.ok(failed.reason, 'the failure names its cause');
      assert.deepEqual(completed(await client.status(jobId)), before, 'no checkpoint completes while etcd is away');
    } finally {
      etcd.resume();
    }
    await waitFor('a checkpoint after etcd returned', async () => completed(await client.status(jobId)).some((id) => !before.includes(id)), {
      timeoutMs: 30_000,
    });
    unpace(output);
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.equal(result.details.attempt, 0, 'the outage did not fail the job');
    assert.deepEqual(checkExactlyOnce(output, records, 8), []);
  });
});
