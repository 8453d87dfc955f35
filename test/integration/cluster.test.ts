import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ClusterClient } from '../../lib/client/cluster-client.js';
import { distRoot, killAll, launch } from '../support/launcher.js';
import { CLI, expectedWordCounts, jobPath, startCluster, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

async function waitForSlots(client: ClusterClient, total: number): Promise<void> {
  await waitFor(`${total} registered slots`, async () => (await client.overview()).slotsTotal === total, { timeoutMs: 15_000 });
}

function lastCountPerWord(records: unknown[]): { last: Map<string, number>; updates: Map<string, number> } {
  const last = new Map<string, number>();
  const updates = new Map<string, number>();
  for (const record of records) {
    const [word, count] = record as [string, number];
    last.set(word, Math.max(last.get(word) ?? 0, count));
    updates.set(word, (updates.get(word) ?? 0) + 1);
  }
  return { last, updates };
}

describe('cluster - jobs on a Master and two TaskExecutors of two slots', function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let client: ClusterClient;

  before(async () => {
    cluster = await startCluster({ taskExecutors: 2, slots: 2, slotRequestTimeoutMs: 3000 });
    client = await cluster.client();
    await waitForSlots(client, 4);
  });
  after(async () => {
    await cluster?.stop();
    await killAll();
  });

  it('counts the words of generated text exactly', async () => {
    const lines = 20_000;
    const jobId = await client.submitFile(jobPath('wordcount'), { parallelism: 2, args: { lines } });
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    const expected = expectedWordCounts(lines);
    const { last, updates } = lastCountPerWord(result.collected);
    assert.deepEqual(new Map([...last].sort()), new Map([...expected].sort()));
    // A rolling count emits one update per input word: nothing lost, nothing duplicated.
    assert.deepEqual(new Map([...updates].sort()), new Map([...expected].sort()));
  });

  it("runs the seed's example as five subtasks in two slots", async () => {
    const jobId = await client.submitFile(jobPath('seed-example'), { args: { count: 1000 } });
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    const { details } = result;
    assert.deepEqual(
      details.vertices.map((v) => [v.name, v.parallelism]),
      [
        ['Source -> map()', 2],
        ['keyBy()/window()/apply()', 2],
        ['Sink', 1],
      ],
    );
    assert.equal(details.subtasks.length, 5);
    assert.ok(details.subtasks.every((s) => s.state === 'finished'));
    assert.equal(details.slots.length, 2);
    // Subtask 0 of every vertex shares one slot: a whole pipeline.
    const slotOf = (vertex: number, index: number) => {
      const s = details.subtasks.find((t) => t.vertexId === details.vertices[vertex]!.id && t.index === index)!;
      return `${s.taskExecutorId}/${s.slotIndex}`;
    };
    assert.equal(slotOf(0, 0), slotOf(1, 0));
    assert.equal(slotOf(0, 0), slotOf(2, 0));
    assert.equal(slotOf(0, 1), slotOf(1, 1));
    // The reduce's rolling sums end at the sum of each key's numbers.
    const totals = new Map<string, number>();
    for (const [key, sum] of result.collected as Array<[string, number]>) totals.set(key, Math.max(totals.get(key) ?? 0, sum));
    for (let k = 0; k < 10; k++) {
      let expected = 0;
      for (let n = 1; n <= 1000; n++) if (n % 10 === k) expected += n;
      assert.equal(totals.get(`k${k}`), expected);
    }
  });

  it('gives a separate slot sharing group its own slots', async () => {
    const jobId = await client.submitFile(jobPath('seed-example'), { args: { count: 100, sinkGroup: 'sink' } });
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.equal(result.details.slots.length, 3);
    assert.deepEqual(result.details.slots.map((s) => s.group).sort(), ['default', 'default', 'sink']);
  });

  it('fails a job that cannot get its slots after the slot request timeout, with a clear message', async () => {
    const started = Date.now();
    const jobId = await client.submitFile(jobPath('wordcount'), { parallelism: 5, args: { lines: 10 } });
    const waiting = await client.status(jobId);
    assert.equal(waiting.state, 'waitingForResources');
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'failed');
    assert.equal(result.failure?.code, 'SLOT_REQUEST_TIMEOUT');
    assert.match(result.failure!.message, /could not acquire the 5 slots the job needs \(group 'default': 5\) within 3000 ms/);
    assert.ok(Date.now() - started >= 3000);
    assert.equal((await client.overview()).slotsFree, 4, 'nothing stays allocated');
  });

  it('fails a job whose task throws, naming the cause', async () => {
    const jobId = await client.submitFile(jobPath('failing'), { args: { failAt: 300 } });
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'failed');
    assert.match(result.failure!.message, /record 300 is poison/);
    await waitFor('slots to be free again', async () => (await client.overview()).slotsFree === 4);
  });

  it('rejects invalid job modules and graphs with clear errors', async () => {
    await assert.rejects(client.submit(Buffer.from('export const notAJob = 1;')), { code: 'INVALID_JOB_MODULE' });
    await assert.rejects(client.submit(Buffer.from('export default (env) => { env.fromSequence(1, 10).map((x) => x); };')), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'INVALID_JOB_GRAPH');
      assert.match(err.message, /sink/i);
      return true;
    });
    await assert.rejects(client.submit(Buffer.from('this is not javascript')), { code: 'INVALID_JOB_MODULE' });
    await assert.rejects(client.status('no-such-job'), { code: 'UNKNOWN_JOB' });
  });

  it('cancels a running job', async () => {
    const jobId = await client.submitFile(jobPath('slow-sink'), { args: { sinkDelayUs: 100 } });
    await waitFor('the job to run', async () => (await client.status(jobId)).subtasks.every((s) => s.state === 'running'));
    await client.cancel(jobId);
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'canceled');
    assert.ok(result.details.subtasks.every((s) => s.state === 'canceled'));
    await waitFor('slots to be free again', async () => (await client.overview()).slotsFree === 4);
  });

  it('bounds a fast source by a slow sink (credit-based backpressure)', async () => {
    const jobId = await client.submitFile(jobPath('slow-sink'), { args: { sinkDelayUs: 500 } });
    const gaps: number[] = [];
    await waitFor('several metric reports under backpressure', async () => {
      const details = await client.status(jobId);
      const source = details.subtasks.find((s) => s.vertexId === details.vertices[0]!.id)!;
      const sink = details.subtasks.find((s) => s.vertexId === details.vertices[1]!.id)!;
      if (sink.metrics.recordsIn > 0) gaps.push(source.metrics.recordsOut - sink.metrics.recordsIn);
      return gaps.length >= 5 && sink.metrics.recordsIn > 2000;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    await client.cancel(jobId);
    await client.waitForResult(jobId);
    // The sink handles ~2000 records/s; unbounded, the source would be millions ahead.
    assert.ok(Math.max(...gaps) < 100_000, `source ran ahead by ${Math.max(...gaps)} records`);
    const details = (await client.result(jobId))!.details;
    const source = details.subtasks.find((s) => s.vertexId === details.vertices[0]!.id)!;
    assert.ok(source.metrics.backPressuredMs > 0, 'the source reports time spent waiting for credit');
  });
});

describe('cluster - losing a TaskExecutor', function () {
  this.timeout(60_000);
  after(() => killAll());

  it('fails the job with that reason when a TaskExecutor is killed with SIGKILL, and frees its slots', async () => {
    const cluster = await startCluster({ taskExecutors: 2, slots: 1 });
    try {
      const client = await cluster.client();
      await waitForSlots(client, 2);
      const jobId = await client.submitFile(jobPath('slow-sink'), { parallelism: 2, args: { sinkDelayUs: 100 } });
      const details = await waitFor('the job to run on both TaskExecutors', async () => {
        const d = await client.status(jobId);
        return d.subtasks.length > 0 && d.subtasks.every((s) => s.state === 'running') ? d : undefined;
      });
      const victim = cluster.taskExecutors[0]!;
      const victimId = 'te-1';
      assert.ok(details.subtasks.some((s) => s.taskExecutorId === victimId));
      victim.kill('SIGKILL');
      const result = await client.waitForResult(jobId);
      assert.equal(result.state, 'failed');
      assert.equal(result.failure?.code, 'TASK_EXECUTOR_LOST');
      assert.match(result.failure!.message, /TaskExecutor te-1 was lost/);
      const overview = await client.overview();
      assert.deepEqual(overview.taskExecutors.map((t) => t.id), ['te-2']);
      assert.equal(overview.slotsFree, 1);
    } finally {
      await cluster.stop();
    }
  });
});

describe('cli - bad input', function () {
  this.timeout(30_000);
  const cli = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [path.join(distRoot, CLI), ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });

  it('rejects a parallelism that is not a positive integer', () => {
    const r = cli(['run', 'job.js', '-p', 'abc']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /expected a positive integer, got 'abc'/);
  });

  it('rejects unknown commands and options', () => {
    assert.match(cli(['frobnicate']).stderr, /unknown command 'frobnicate'/);
    assert.match(cli(['list', '--bogus']).stderr, /unknown option '--bogus'/);
  });

  it('names a bad configuration value and its source', () => {
    const r = cli(['list'], { FLINKISH_SLOTS: 'many' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /invalid configuration 'slots': must be an integer, got "many" \(from FLINKISH_SLOTS\)/);
  });

  it('reports a missing job module clearly', () => {
    const dir = path.join(distRoot, '..', '.tmp');
    writeFileSync(path.join(distRoot, 'cli-test-config.json'), JSON.stringify({ clientSecret: 'x'.repeat(20), masterAddress: '127.0.0.1:1' }));
    const r = cli(['--config', path.join(distRoot, 'cli-test-config.json'), 'run', path.join(dir, 'does-not-exist.js')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ENOENT|no such file/);
  });
});

describe('cluster - application mode', function () {
  this.timeout(60_000);
  after(() => killAll());

  it('runs one job, then the Master and its TaskExecutors exit', async () => {
    const workDir = mkdtempSync(path.join(tmpdir(), 'flinkish-app-'));
    const env = { FLINKISH_SECRET: 'application-secret-0123456', FLINKISH_CLUSTER_ID: `app-${process.pid}`, FLINKISH_WORK_DIR: workDir };
    try {
      const master = await launch(CLI, {
        args: ['master', '--port', '0', '--application', jobPath('wordcount'), '-p', '2', '--arg', 'lines=20'],
        env,
        name: 'app-master',
      });
      const tes = await Promise.all(
        [1, 2].map((i) =>
          launch(CLI, { args: ['--master', String(master.ready['node']), 'taskexecutor', '--slots', '1', '--id', `te-${i}`], env, name: `app-te-${i}` }),
        ),
      );
      await master.waitForExit(45_000);
      assert.equal(master.exitCode, 0, master.tail());
      assert.ok(master.output.some((line) => /^job [0-9a-f]+ finished in/.test(line)), master.tail());
      for (const te of tes) {
        await te.waitForExit(15_000);
        assert.equal(te.exitCode, 0, te.tail());
      }
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});
