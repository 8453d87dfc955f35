/**
 * Off-heap accounting of slots (issue 11, finding 8): the heap limit of a task's worker does not
 * cover Buffers, so the worker measures them and fails the task past its slot's share.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import type { ClusterClient } from '../../lib/client/cluster-client.js';
import { distRoot, killAll } from '../support/launcher.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

const bufferHog = path.join(distRoot, 'test', 'fixtures', 'jobs', 'buffer-hog.js');

describe('slot memory - Buffers count against the slot', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let client: ClusterClient;

  before(async () => {
    cluster = await startCluster({ taskExecutors: 1, slots: 2, slotMemoryMb: 64 });
    client = await cluster.client();
    await waitFor('2 registered slots', async () => (await client.overview()).slotsTotal === 2, { timeoutMs: 15_000 });
  });
  after(async () => {
    await cluster?.stop();
    await killAll();
  });

  it('fails a job whose task holds Buffers beyond its 64 MB slot with TASK_OUT_OF_MEMORY; the TaskExecutor serves on', async () => {
    const jobId = await client.submitFile(bufferHog, { args: { mb: 1024 } });
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'failed');
    assert.equal(result.failure?.code, 'TASK_OUT_OF_MEMORY', JSON.stringify(result.failure));
    assert.match(result.failure!.message, /off-heap limit of 64 MB/);
    // Within its share the same job finishes, on the same TaskExecutor.
    await waitFor('slots to be free again', async () => (await client.overview()).slotsFree === 2);
    const small = await client.submitFile(bufferHog, { args: { mb: 16 } });
    assert.equal((await client.waitForResult(small)).state, 'finished');
  });
});
