import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterClient } from '../../lib/client/cluster-client.js';
import { startHaCluster, type HaCluster } from '../../scripts/support/local-ha.js';
import { distRoot, killAll } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';

const scriptJob = (name: string) => path.join(distRoot, 'scripts', 'jobs', `${name}.js`);
const fixtureJob = (name: string) => path.join(distRoot, 'test', 'fixtures', 'jobs', `${name}.js`);

describe('checkpoints - every checkpoint ends, savepoints queue', function () {
  this.timeout(120_000);
  let cluster: HaCluster | undefined;
  let client: ClusterClient;
  before(async () => {
    cluster = await startHaCluster({ masters: 1, taskExecutors: 2, slots: 2 });
    client = await cluster.client();
    await waitFor('4 slots', async () => (await client.overview()).slotsTotal === 4, { timeoutMs: 20_000 });
  });
  after(async () => {
    await cluster?.stop();
    cluster = undefined;
    await killAll();
  });

  it('a source subtask that finishes right as checkpoints trigger: every checkpoint ends and the job finishes, run after run', async () => {
    let carried = 0;
    for (let run = 0; run < 12; run++) {
      const jobId = await client.submitFile(fixtureJob('finishing-source'), { parallelism: 2, args: { count: 3000, checkpointMs: 10, pauseEvery: 15 } });
      const result = await waitFor(`run ${run} to end`, () => client.result(jobId), { timeoutMs: 20_000, intervalMs: 50 });
      assert.equal(result.state, 'finished', `run ${run}: ${JSON.stringify(result.failure)}`);
      const checkpoints = result.details.checkpoints;
      assert.deepEqual(checkpoints.filter((c) => c.status === 'pending'), [], `run ${run}: no checkpoint left pending`);
      const completed = checkpoints.filter((c) => c.status === 'completed');
      assert.ok(completed.length > 0, `run ${run}: checkpoints completed`);
      // Completed after a subtask had finished: its handle was carried, not acknowledged.
      carried += completed.filter((c) => (c.carried ?? 0) > 0).length;
    }
    assert.ok(carried > 0, 'some checkpoints completed with a finished subtask carried');
  });

  it('sources exhausted before every subtask reported running still get their final checkpoint, with a 10-minute interval', async () => {
    for (let run = 0; run < 8; run++) {
      const jobId = await client.submitFile(fixtureJob('finishing-source'), { parallelism: 2, args: { count: 400, checkpointMs: 600_000, pauseEvery: 1_000_000 } });
      const result = await waitFor(`run ${run} to end`, () => client.result(jobId), { timeoutMs: 15_000, intervalMs: 50 });
      assert.equal(result.state, 'finished', `run ${run}: ${JSON.stringify(result.failure)}`);
      assert.ok(result.details.checkpoints.some((c) => c.status === 'completed'), `run ${run}: the final checkpoint completed`);
    }
  });

  it('a savepoint taken after a source subtask finished holds that subtask\'s state in its own directory', async () => {
    const jobId = await client.submitFile(fixtureJob('finishing-source'), { parallelism: 2, args: { count: 5000, checkpointMs: 100, pauseEvery: 1 } });
    await waitFor('source subtask 0 to finish, a checkpoint after it', async () => {
      const d = await client.status(jobId);
      const source = d.vertices[0]!.id;
      return d.subtasks.some((s) => s.vertexId === source && s.state === 'finished') && d.checkpoints.some((c) => (c.carried ?? 0) > 0);
    }, { timeoutMs: 20_000, intervalMs: 20 });
    const { path: savepoint } = await client.savepoint(jobId);
    const metadata = JSON.parse(readFileSync(path.join(savepoint, '_metadata'), 'utf8')) as { handles: Array<{ path: string }> };
    assert.equal(metadata.handles.length, 4, 'a handle for every subtask');
    for (const h of metadata.handles) {
      assert.equal(path.dirname(h.path), savepoint, `${h.path} is inside the savepoint`);
      assert.ok(existsSync(h.path), h.path);
    }
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
  });

  it('a checkpoint times out at its timeout even when the periodic trigger is minutes away', async () => {
    const jobId = await client.submitFile(scriptJob('slow-checkpoints'), { args: { timeoutMs: 300, intervalMs: 600_000 } });
    await waitFor('the job to run', async () => (await client.status(jobId)).subtasks.every((s) => s.state === 'running'), { timeoutMs: 20_000 });
    const askedAt = Date.now();
    await assert.rejects(client.savepoint(jobId), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SAVEPOINT_FAILED');
      assert.match(err.message, /timed out after 300 ms/);
      return true;
    });
    assert.ok(Date.now() - askedAt < 10_000, `the savepoint failed after ${Date.now() - askedAt} ms`);
    const aborted = (await client.status(jobId)).checkpoints.find((c) => c.status === 'aborted');
    assert.ok(aborted && aborted.durationMs !== null && aborted.durationMs < 2_000, JSON.stringify(aborted));
    await client.cancel(jobId);
    await client.waitForResult(jobId);
  });

  it('savepoints requested while a checkpoint is in flight wait for it and succeed, then stop the job', async () => {
    const output = path.join(cluster!.workDir, 'savepoint-out');
    const jobId = await client.submitFile(scriptJob('keyed-count'), { parallelism: 2, args: { records: 1_000_000, keys: 16, output, recordsPerSecond: 2000, checkpointMs: 500 } });
    await waitFor('a checkpoint', async () => (await client.status(jobId)).checkpoints.some((c) => c.status === 'completed'), { timeoutMs: 30_000 });
    // Three at once: at most one can start, the others find it (or a periodic one) in flight.
    const paths = await Promise.all([client.savepoint(jobId), client.savepoint(jobId), client.savepoint(jobId)]);
    for (const { path: p } of paths) assert.ok(existsSync(path.join(p, '_metadata')), p);
    assert.equal(new Set(paths.map((p) => p.path)).size, 3);
    assert.ok(cluster!.masters[0]!.output.some((line) => line.includes('savepoint queued behind the checkpoint in flight')), 'a savepoint waited');
    const { path: last } = await client.savepoint(jobId, { stop: true });
    assert.ok(existsSync(path.join(last, '_metadata')));
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished');
    assert.equal(result.stoppedWithSavepoint, last);
  });
});
