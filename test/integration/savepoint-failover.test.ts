/**
 * Stop-with-savepoint across a leader SIGKILL at each of its steps, and sink directory
 * ownership: every case ends in a state the user was told truthfully, and resuming from the
 * savepoint the CLI reported gives exactly-once output.
 *
 * The kill points are reached by observing etcd and the savepoint directory, never by timing:
 * - before completion: the TaskExecutors are paused until the savepoint's record is
 *   `in-progress`, then the leader is paused and the TaskExecutors resumed until every subtask
 *   wrote its state file (acknowledged to a leader that cannot complete it); then SIGKILL;
 * - after completion, before the stop: an etcd watch pauses the leader on the put that marks
 *   the record `completed` (no job result exists yet, which the test checks); then SIGKILL;
 * - after the stop: the leader is killed once the job's result is in etcd.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { decodeValue } from '../../lib/ha/codec.js';
import { createEtcdClient, haRoot } from '../../lib/ha/etcd-client.js';
import { EtcdSavepointStore, SavepointKeys, type SavepointRecord } from '../../lib/ha/etcd-savepoints.js';
import { EtcdJobResultStore } from '../../lib/ha/etcd-stores.js';
import { checkExactlyOnce } from '../../scripts/support/exactly-once.js';
import { unpace, unpacedFileOf } from '../../scripts/support/unpace.js';
import { CLI, startHaCluster, type HaCluster } from '../../scripts/support/local-ha.js';
import { distRoot, killAll } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';
import { firstCheckpoint, haClusterPerTest, leaderOf } from '../support/ha-cluster.js';

const keyedCount = path.join(distRoot, 'scripts', 'jobs', 'keyed-count.js');
const run = promisify(execFile);

/** A read-only view of the cluster's etcd, as the test observes it. */
function etcdView(cluster: HaCluster): { etcd: Etcd3; savepoints: EtcdSavepointStore; results: EtcdJobResultStore; root: ReturnType<Etcd3['namespace']> } {
  const etcd = createEtcdClient(cluster.etcd.clientOptions);
  const root = etcd.namespace(haRoot(cluster.env['FLINKISH_CLUSTER_ID']!));
  return { etcd, root, savepoints: new EtcdSavepointStore({ root, guard: null }), results: new EtcdJobResultStore({ root, guard: null }) };
}

type Outcome = { path: string; error?: undefined } | { path?: undefined; error: Error & { code?: string; details?: Record<string, unknown> } };

function settle(p: Promise<{ path: string }>): Promise<Outcome> {
  return p.then(
    ({ path }) => ({ path }),
    (error: Error) => ({ error }),
  );
}

describe('savepoints - stop-with-savepoint survives a leader SIGKILL at every step', function () {
  this.timeout(150_000);
  let cluster: HaCluster | undefined;
  let view: ReturnType<typeof etcdView> | undefined;
  const records = 16_000;
  const keys = 10;
  const argsFor = (output: string) => ({ records, keys, output, recordsPerSecond: 4000, checkpointMs: 200, unpacedBy: unpacedFileOf(output) });

  afterEach(async () => {
    view?.etcd.close();
    view = undefined;
    for (const p of cluster?.taskExecutors ?? []) p.resume();
    await cluster?.stop();
    cluster = undefined;
    await killAll();
  });

  it('before the savepoint completes: the client is told it failed and the job runs on; the half savepoint is deleted and refused', async () => {
    // A long heartbeat timeout: TaskExecutors paused for a moment must not count as lost.
    cluster = await startHaCluster({ masters: 2, taskExecutors: 2, slots: 2, env: { FLINKISH_HEARTBEAT_TIMEOUT_MS: '15000' } });
    view = etcdView(cluster);
    const client = await cluster.client();
    const leader = await leaderOf(cluster, client);
    const output = path.join(cluster.workDir, 'out');
    const jobId = await client.submitFile(keyedCount, { args: argsFor(output) });
    await firstCheckpoint(client, jobId);
    const subtasks = (await client.status(jobId)).subtasks.length;

    await Promise.all(cluster.taskExecutors.map((te) => te.pause()));
    const outcome = settle(client.savepoint(jobId, { stop: true }));
    const record = await waitFor('the savepoint in progress in etcd', async () =>
      (await view!.savepoints.list(jobId)).find((r) => r.state === 'in-progress'),
    );
    // Recorded is not yet triggered: pause the leader only once its triggers are sent.
    await leader.waitForLine((line) => line.includes('savepoint triggered'), 20_000);
    await leader.pause();
    for (const te of cluster.taskExecutors) te.resume();
    const stateFiles = () => (existsSync(record.path) ? readdirSync(record.path).filter((f) => f.endsWith('.state')) : []);
    await waitFor('every subtask state file in the savepoint directory', () => stateFiles().length === subtasks, { timeoutMs: 20_000 });
    assert.ok(!existsSync(path.join(record.path, '_metadata')), 'a paused leader cannot have completed it');
    const incomplete = path.join(cluster.workDir, 'incomplete-savepoint');
    cpSync(record.path, incomplete, { recursive: true });
    leader.kill('SIGKILL');

    const told = await outcome;
    assert.ok(told.error, `the client was told it failed, not ${told.path}`);
    assert.equal(told.error.code, 'SAVEPOINT_FAILED');
    assert.match(told.error.message, /the job is (running|created|waitingForResources|restarting|reconciling)/); // reconciling: the new leader adopts the running tasks
    await leaderOf(cluster, client, leader);
    const settled = (await view.savepoints.list(jobId)).find((r) => r.checkpointId === record.checkpointId)!;
    assert.equal(settled.state, 'failed');
    assert.ok(!existsSync(record.path), 'the new leader deleted the interrupted savepoint');
    assert.deepEqual((await client.savepoints(jobId)).map((r) => r.state), ['failed'], 'the CLI and REST see what etcd holds');

    // A copy of the half savepoint is refused at submission, with a code and what to do.
    await assert.rejects(client.submitFile(keyedCount, { args: argsFor(path.join(cluster.workDir, 'other')), fromSavepoint: incomplete }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SAVEPOINT_INCOMPLETE');
      assert.match(err.message, /no _metadata/);
      return true;
    });
    const cli = await run(process.execPath, [path.join(distRoot, CLI), 'run', keyedCount, '--detached', '--from-savepoint', incomplete, '--arg', `output=${path.join(cluster.workDir, 'cli')}`], {
      env: { ...process.env, ...cluster.env },
      timeout: 30_000,
    }).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    assert.equal(cli.code, 1);
    assert.equal(cli.stdout, '');
    assert.match(cli.stderr, /error \[SAVEPOINT_INCOMPLETE\]/);

    unpace(output);
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.equal(result.stoppedWithSavepoint, undefined, 'the job was not stopped: it ran to its end');
    assert.deepEqual(checkExactlyOnce(output, records, keys), []);
  });

  it('after it completes, before the stop: the new leader ends the job instead of resuming it; the resume is exactly once', async () => {
    cluster = await startHaCluster({ masters: 2, taskExecutors: 2, slots: 2 });
    view = etcdView(cluster);
    const client = await cluster.client();
    const leader = await leaderOf(cluster, client);
    const output = path.join(cluster.workDir, 'out');
    const jobId = await client.submitFile(keyedCount, { args: argsFor(output) });
    await firstCheckpoint(client, jobId);

    let seen: SavepointRecord | undefined;
    let completed: SavepointRecord | undefined;
    const watcher = await view.root.watch().prefix(SavepointKeys.jobPrefix(jobId)).create();
    watcher.on('put', (kv) => {
      const record = decodeValue<SavepointRecord>(kv.value);
      if (record.state !== 'completed' || seen) return;
      seen = record;
      // The SIGSTOP goes out at once; `completed` is set once it has taken effect.
      void leader.pause().then(() => (completed = record));
    });
    const outcome = settle(client.savepoint(jobId, { stop: true }));
    await waitFor('the leader paused on the completed record', () => completed, { timeoutMs: 30_000 });
    await watcher.cancel();
    assert.equal(await view.results.get(jobId), undefined, 'paused before the stop: the job has no result');
    assert.equal((await view.savepoints.stopIntent(jobId))?.savepointPath, completed!.path, 'the stop intent is recorded with the completion');
    leader.kill('SIGKILL');

    const told = await outcome;
    assert.equal(told.error, undefined, `the client was told it completed: ${told.error?.message}`);
    assert.equal(told.path, completed!.path);
    await leaderOf(cluster, client, leader);
    const stopped = await client.waitForResult(jobId);
    assert.equal(stopped.state, 'finished');
    assert.equal(stopped.stoppedWithSavepoint, told.path);
    assert.equal((await client.list()).find((j) => j.jobId === jobId)?.stoppedWithSavepoint, told.path);
    assert.equal((await client.status(jobId)).stoppedWithSavepoint, told.path);

    unpace(output); // the resumed run need not be paced
    const resumed = await client.submitFile(keyedCount, { args: argsFor(output), fromSavepoint: told.path! });
    const result = await client.waitForResult(resumed);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.equal(result.details.restoredFrom, completed!.checkpointId);
    assert.deepEqual(checkExactlyOnce(output, records, keys), []);
  });

  it('after the stop: the new leader reports the job stopped with its savepoint; a resume submitted at once takes the sink over, exactly once', async () => {
    cluster = await startHaCluster({ masters: 2, taskExecutors: 2, slots: 2 });
    view = etcdView(cluster);
    const client = await cluster.client();
    const leader = await leaderOf(cluster, client);
    const output = path.join(cluster.workDir, 'out');
    const jobId = await client.submitFile(keyedCount, { args: argsFor(output) });
    await firstCheckpoint(client, jobId);
    const { path: savepoint } = await client.savepoint(jobId, { stop: true });
    assert.ok(existsSync(path.join(savepoint, '_metadata')));
    // What a user does next, without waiting for the old job to wind down.
    const resumed = await client.submitFile(keyedCount, { args: argsFor(output), fromSavepoint: savepoint });
    await waitFor('the stopped job result in etcd', () => view!.results.get(jobId), { timeoutMs: 20_000 });
    await firstCheckpoint(client, resumed);
    leader.kill('SIGKILL');
    const next = await leaderOf(cluster, client, leader);

    const stopped = await client.waitForResult(jobId);
    assert.equal(stopped.state, 'finished');
    assert.equal(stopped.stoppedWithSavepoint, savepoint);
    // The client, REST and the CLI read the same records from etcd.
    assert.deepEqual((await client.savepoints(jobId)).map((r) => [r.state, r.path]), [['completed', savepoint]]);
    const rest = (await (await fetch(`http://${String(next.ready['rest'])}/api/jobs/${jobId}/savepoints`)).json()) as SavepointRecord[];
    assert.deepEqual(rest.map((r) => [r.state, r.path, r.stop]), [['completed', savepoint, true]]);
    const jobs = (await (await fetch(`http://${String(next.ready['rest'])}/api/jobs`)).json()) as Array<{ jobId: string; state: string; stoppedWithSavepoint: string | null }>;
    assert.deepEqual(jobs.find((j) => j.jobId === jobId), { ...jobs.find((j) => j.jobId === jobId)!, state: 'finished', stoppedWithSavepoint: savepoint });
    const cliEnv = { env: { ...process.env, ...cluster.env }, timeout: 30_000 };
    const listed = await run(process.execPath, [path.join(distRoot, CLI), 'savepoints', jobId], cliEnv);
    const line = listed.stdout.split('\n').find((l) => l.includes(savepoint));
    assert.ok(line?.includes('completed') && line.endsWith(`${savepoint} (stop)`), listed.stdout);
    const list = await run(process.execPath, [path.join(distRoot, CLI), 'list'], cliEnv);
    assert.ok(list.stdout.includes(`(stopped with savepoint ${savepoint})`), list.stdout);
    unpace(output);
    const result = await client.waitForResult(resumed);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.deepEqual(checkExactlyOnce(output, records, keys), []);
  });
});

describe('savepoints - a sink directory belongs to one job', function () {
  this.timeout(90_000);
  const clusters = haClusterPerTest();

  it('refuses a second job on a directory a running job owns, naming the owner; accepts it once the owner ended', async () => {
    const cluster = await clusters.start({ masters: 1, taskExecutors: 2, slots: 2 });
    const client = await cluster.client();
    const output = path.join(cluster.workDir, 'out');
    const owner = await client.submitFile(keyedCount, { args: { records: 1_000_000, keys: 4, output, recordsPerSecond: 2000, checkpointMs: 200 } });
    // The same directory, spelled differently, is the same directory.
    const spelled = `${path.join(cluster.workDir, '.', 'out')}/`;
    await assert.rejects(client.submitFile(keyedCount, { args: { records: 100, keys: 4, output: spelled } }), (err: Error & { code?: string; details?: Record<string, unknown> }) => {
      assert.equal(err.code, 'SINK_DIR_OWNED');
      assert.equal(err.details?.['owner'], owner);
      assert.ok(err.message.includes(owner) && err.message.includes(output), err.message);
      return true;
    });
    assert.equal((await client.list()).length, 1, 'the refused job left nothing behind');
    await client.cancel(owner);
    assert.equal((await client.waitForResult(owner)).state, 'canceled');
    const next = await client.submitFile(keyedCount, { args: { records: 100, keys: 4, output } });
    assert.equal((await client.waitForResult(next)).state, 'finished');
  });
});

describe('savepoints - a savepoint that does not complete', function () {
  this.timeout(60_000);
  const clusters = haClusterPerTest();

  it('is failed in etcd and the client told SAVEPOINT_FAILED; the job runs on', async () => {
    const cluster = await clusters.start({ masters: 1, taskExecutors: 1, slots: 2 });
    const client = await cluster.client();
    const output = path.join(cluster.workDir, 'out');
    const jobId = await client.submitFile(keyedCount, { args: { records: 1_000_000, keys: 4, output, recordsPerSecond: 2000, checkpointMs: 200 } });
    await firstCheckpoint(client, jobId);
    // A target that is a file (inside the savepoint root): no subtask can write its state there, every one declines.
    const target = path.join(cluster.workDir, 'savepoints', 'not-a-directory');
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, '');
    const failed = await waitFor('a savepoint that started and was declined', async () => {
      await assert.rejects(client.savepoint(jobId, { dir: target }), { code: 'SAVEPOINT_FAILED' });
      // (A savepoint may also be refused before it starts, while a checkpoint is in flight: then there is no record.)
      return (await client.savepoints(jobId)).find((r) => r.state === 'failed');
    }, { timeoutMs: 30_000, intervalMs: 100 });
    assert.match(failed.failure ?? '', /declined/);
    assert.ok(failed.path.startsWith(target + path.sep));
    assert.equal((await client.status(jobId)).state, 'running');
    await client.cancel(jobId);
  });
});
