/**
 * Checkpoint and savepoint storage in a real S3-compatible object store: s3rver in its own
 * process (test/support/s3-server.ts), reached through the endpoint, path-style addressing and
 * credentials that MinIO would be given. Nothing in the cluster's code knows which store it is.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { checkExactlyOnce } from '../../scripts/support/exactly-once.js';
import { unpace, unpacedFileOf } from '../../scripts/support/unpace.js';
import { startHaCluster, type HaCluster } from '../../scripts/support/local-ha.js';
import { createS3Client, PART_BYTES, S3Storage } from '../../lib/storage/s3-storage.js';
import { StorageErrorCode, StorageFailedError } from '../../lib/storage/index.js';
import { distRoot, killAll } from '../support/launcher.js';
import { S3RVER_CREDENTIALS, startS3Server, type TestS3Server } from '../support/s3-server.js';
import { waitFor } from '../support/wait.js';

const BUCKET = 'flinkish-test';
const job = (name: string) => path.join(distRoot, 'scripts', 'jobs', `${name}.js`);

function completed(details: { checkpoints: Array<{ status: string; id: number }> }): number[] {
  return details.checkpoints.filter((c) => c.status === 'completed').map((c) => c.id);
}

describe('storage - checkpoints and savepoints in an S3-compatible store', function () {
  this.timeout(180_000);
  let s3: TestS3Server;
  let s3Client: ReturnType<typeof createS3Client>;
  let bucket: S3Storage;
  let cluster: HaCluster | undefined;

  // A fresh store per test (it starts in about a second): each test sees only its own objects.
  beforeEach(async () => {
    s3 = await startS3Server([BUCKET]);
    const credentials = { accessKeyId: S3RVER_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: S3RVER_CREDENTIALS.AWS_SECRET_ACCESS_KEY };
    s3Client = createS3Client({ endpoint: s3.endpoint, region: 'us-east-1', pathStyle: true }, credentials);
    bucket = new S3Storage(s3Client, BUCKET);
  });
  afterEach(async () => {
    try {
      await cluster?.stop();
      cluster = undefined;
      await killAll();
    } finally {
      s3Client?.destroy();
      await s3?.stop(); // its data dir too
    }
  });

  const clusterEnv = () => ({
    ...s3.env,
    FLINKISH_CHECKPOINT_DIR: `s3://${BUCKET}/checkpoints`,
    FLINKISH_SAVEPOINT_DIR: `s3://${BUCKET}/savepoints`,
    FLINKISH_S3_ENDPOINT: s3.endpoint,
    FLINKISH_S3_PATH_STYLE: 'true',
  });

  /** `chk-N` prefixes of a job in the bucket. */
  async function checkpointPrefixes(jobId: string): Promise<Set<string>> {
    const keys = await bucket.list(`checkpoints/${jobId}`);
    return new Set(keys.map((k) => k.split('/')[2]!).filter((name) => name.startsWith('chk-')));
  }

  it('the store itself: atomic put of bytes and of a multipart stream, get, list, delete by prefix, not-found', async () => {
    await bucket.put('probe/small', Buffer.from('small'));
    const big = Buffer.alloc(PART_BYTES * 2 + 12345);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    await bucket.put('probe/big', Readable.from([big.subarray(0, PART_BYTES + 1), big.subarray(PART_BYTES + 1)]));
    assert.equal((await bucket.getBytes('probe/small')).toString(), 'small');
    assert.ok((await bucket.getBytes('probe/big')).equals(big), 'the multipart upload reads back byte for byte');
    assert.ok(await bucket.exists('probe/big'));
    assert.deepEqual((await bucket.list('probe')).sort(), ['probe/big', 'probe/small']);
    assert.deepEqual(await bucket.list('prob'), [], 'a prefix is a directory, not a string prefix');
    await bucket.complete('probe', '{}');
    assert.equal(await bucket.deletePrefix('probe'), 3);
    assert.deepEqual(await bucket.list('probe'), []);
    assert.ok(!(await bucket.exists('probe/small')));
    await assert.rejects(bucket.get('probe/small'), { code: StorageErrorCode.NotFound });
    // A missing bucket is the operator's to fix: said at once, never retried.
    const missing = new S3Storage(s3Client, 'no-such-bucket');
    await assert.rejects(missing.put('x', Buffer.from('x')), (err: StorageFailedError) => {
      assert.equal(err.code, StorageErrorCode.Failed);
      assert.equal(err.retryable, false);
      assert.match(err.message, /s3:\/\/no-such-bucket\/x/);
      return true;
    });
  });

  it('a body in memory up to the single-PUT size is one PutObject, a larger one a multipart upload; both read back whole', async () => {
    // What our code asks of the store, seen at the client (s3rver's ETags do not tell multipart objects apart).
    const commands: string[] = [];
    s3Client.middlewareStack.add((next, context) => (args) => {
      commands.push(String(context.commandName));
      return next(args);
    }, { step: 'initialize', name: 'recordCommands' });
    const body = Buffer.alloc(PART_BYTES + 4096);
    for (let i = 0; i < body.length; i += 4096) body[i] = i % 253;
    await bucket.put('single/one', body);
    assert.deepEqual(commands.splice(0), ['PutObjectCommand']);
    await new S3Storage(s3Client, BUCKET, PART_BYTES).put('multi/two', body);
    assert.deepEqual(commands.splice(0).sort(), ['CompleteMultipartUploadCommand', 'CreateMultipartUploadCommand', 'UploadPartCommand', 'UploadPartCommand']);
    assert.ok((await bucket.getBytes('single/one')).equals(body));
    assert.ok((await bucket.getBytes('multi/two')).equals(body));
  });

  it('a keyed count checkpoints to S3, restores from it on another TaskExecutor after a kill, exactly once; subsumed checkpoints leave the bucket', async () => {
    cluster = await startHaCluster({ masters: 1, taskExecutors: 2, slots: 2, env: clusterEnv() });
    const client = await cluster.client();
    await waitFor('4 slots', async () => (await client.overview()).slotsTotal === 4, { timeoutMs: 20_000 });
    const output = path.join(cluster.workDir, 'out');
    const records = 20_000;
    const keys = 12;
    const jobId = await client.submitFile(job('keyed-count'), { parallelism: 2, args: { records, keys, output, recordsPerSecond: 2500, checkpointMs: 200, unpacedBy: unpacedFileOf(output) } });
    const details = await waitFor('a completed checkpoint with every subtask running', async () => {
      const d = await client.status(jobId);
      return d.state === 'running' && completed(d).length > 0 && d.subtasks.every((s) => s.state === 'running') ? d : undefined;
    }, { timeoutMs: 30_000, intervalMs: 50 });
    const victimId = details.subtasks[0]!.taskExecutorId!;
    const victim = cluster.taskExecutors.find((p) => p.running && p.name === `taskexecutor-${victimId}`)!;
    assert.ok(victim, `TaskExecutor ${victimId} runs`);
    victim.kill('SIGKILL');
    await cluster.startTaskExecutor(); // a spare with no local state: it downloads
    const restored = await waitFor('a restore from a checkpoint', async () => {
      const d = await client.status(jobId);
      return d.restoredFrom !== null && d.attempt > 0 ? d : undefined;
    }, { timeoutMs: 30_000 });
    assert.ok(restored.restoredFrom! > 0);
    // While the job runs, subsumed checkpoints are deleted: at most the retained three (and
    // one in flight) are in the bucket, though more completed.
    await waitFor('checkpoints beyond the retained ones to leave the bucket', async () => {
      const d = await client.status(jobId);
      const inBucket = await checkpointPrefixes(jobId);
      return completed(d).length > 5 && inBucket.size <= 4 && inBucket.size > 0 ? true : undefined;
    }, { timeoutMs: 30_000 });
    unpace(output);
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.ok(result.details.restarts >= 1);
    assert.deepEqual(checkExactlyOnce(output, records, keys), []);
    const ids = completed(result.details);
    // The last stores' deletions may still be in flight when the result is out: wait for them.
    let inBucket = await checkpointPrefixes(jobId);
    await waitFor('the deletions of the last subsumed checkpoints', async () => ((inBucket = await checkpointPrefixes(jobId)).size <= 4 ? true : undefined), { timeoutMs: 15_000 }).catch(() => undefined);
    assert.ok(inBucket.size <= 4, `${inBucket.size} checkpoints left in the bucket of ${ids.length} completed: ${[...inBucket].join(', ')}`);
    for (const id of ids.slice(0, -4)) assert.ok(!inBucket.has(`chk-${id}`), `subsumed chk-${id} deleted`);
    assert.ok(!existsSync(path.join(cluster.workDir, 'checkpoints')), 'nothing went to a local checkpoint directory');
  });

  it('a stop-with-savepoint goes to s3://, completes with _metadata, and a job resumes from it; an incomplete one is refused at submission', async () => {
    cluster = await startHaCluster({ masters: 1, taskExecutors: 2, slots: 3, env: clusterEnv() });
    const client = await cluster.client();
    const output = path.join(cluster.workDir, 'out');
    const records = 12_000;
    const keys = 8;
    const args = { records, keys, output, recordsPerSecond: 3000, checkpointMs: 200, unpacedBy: unpacedFileOf(output) };
    const first = await client.submitFile(job('keyed-count'), { parallelism: 2, args });
    await waitFor('a checkpoint', async () => completed(await client.status(first)).length > 0, { timeoutMs: 30_000 });
    const { path: savepoint } = await client.savepoint(first, { stop: true });
    assert.ok(savepoint.startsWith(`s3://${BUCKET}/savepoints/savepoint-`), savepoint);
    const key = savepoint.slice(`s3://${BUCKET}/`.length);
    assert.ok(await bucket.exists(`${key}/_metadata`), 'completed: its metadata is in the bucket');
    assert.ok((await bucket.list(key)).some((k) => k.endsWith('.state')), 'with the state of its subtasks');
    const stopped = await client.waitForResult(first);
    assert.equal(stopped.state, 'finished');
    assert.equal(stopped.stoppedWithSavepoint, savepoint);

    // State objects without `_metadata` (an interrupted savepoint) and nothing at all.
    await bucket.put('savepoints/interrupted/v-0.state', Buffer.from('x'));
    await assert.rejects(client.submitFile(job('keyed-count'), { args, fromSavepoint: `s3://${BUCKET}/savepoints/interrupted` }), { code: 'SAVEPOINT_INCOMPLETE' });
    await assert.rejects(client.submitFile(job('keyed-count'), { args, fromSavepoint: `s3://${BUCKET}/savepoints/none` }), { code: 'SAVEPOINT_NOT_FOUND' });

    unpace(output); // the resumed run need not be paced
    const second = await client.submitFile(job('keyed-count'), { parallelism: 3, args, fromSavepoint: savepoint });
    const result = await client.waitForResult(second);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.deepEqual(checkExactlyOnce(output, records, keys), []);
  });

  it('an aborted checkpoint leaves nothing in the bucket', async () => {
    cluster = await startHaCluster({ masters: 1, taskExecutors: 1, slots: 2, env: clusterEnv() });
    const client = await cluster.client();
    const jobId = await client.submitFile(job('slow-checkpoints'), { args: { timeoutMs: 50 } });
    const details = await waitFor('an aborted checkpoint', async () => {
      const d = await client.status(jobId);
      return d.checkpoints.some((c) => c.status === 'aborted') ? d : undefined;
    }, { timeoutMs: 30_000 });
    const aborted = details.checkpoints.find((c) => c.status === 'aborted')!;
    await waitFor(`the objects of chk-${aborted.id} to be deleted`, async () => (await bucket.list(`checkpoints/${jobId}/chk-${aborted.id}`)).length === 0, { timeoutMs: 10_000 });
    await client.cancel(jobId);
  });

  it("a job's collected records are kept in the bucket and read back with its result", async () => {
    cluster = await startHaCluster({ masters: 1, taskExecutors: 1, slots: 2, env: clusterEnv() });
    const client = await cluster.client();
    const jobId = await client.submitFile(job('wordcount'), { args: { lines: 200, vocabulary: 10 } });
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.ok(result.collected.length > 0);
    assert.ok(await bucket.exists(`checkpoints/results/${jobId}.collected`), 'the records are an object beside the checkpoints');
  });

  it('while the store hangs (SIGSTOP) tasks keep processing and no checkpoint completes; after it resumes checkpoints complete, exactly once', async () => {
    cluster = await startHaCluster({ masters: 1, taskExecutors: 1, slots: 2, env: clusterEnv() });
    const client = await cluster.client();
    const output = path.join(cluster.workDir, 'out');
    const records = 24_000;
    const keys = 6;
    const jobId = await client.submitFile(job('keyed-count'), { args: { records, keys, output, recordsPerSecond: 3000, checkpointMs: 200, unpacedBy: unpacedFileOf(output) } });
    await waitFor('a checkpoint', async () => completed(await client.status(jobId)).length > 0, { timeoutMs: 30_000 });
    const emitted = async () => (await client.status(jobId)).subtasks.reduce((sum, s) => sum + s.metrics.recordsOut, 0);
    const pausedAt = Date.now();
    await s3.proc.pause();
    try {
      const before = await emitted();
      await waitFor('records processed while the store hangs', async () => (await emitted()) > before + 2000, { timeoutMs: 15_000 });
      const during = (await client.status(jobId)).checkpoints.filter((c) => c.triggeredAt > pausedAt && c.status === 'completed');
      assert.deepEqual(during, [], 'a checkpoint cannot complete before its snapshots are uploaded');
    } finally {
      s3.proc.resume();
    }
    const resumedAt = Date.now();
    await waitFor('a checkpoint after the store resumed', async () => (await client.status(jobId)).checkpoints.some((c) => c.triggeredAt > resumedAt && c.status === 'completed'), {
      timeoutMs: 30_000,
    });
    unpace(output);
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.equal(result.details.attempt, 0, 'the outage did not fail the job');
    assert.deepEqual(checkExactlyOnce(output, records, keys), []);
  });
});
