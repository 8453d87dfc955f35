import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildJobGraph, type JobGraph } from '../../lib/dataflow/jobgraph.js';
import { buildStreamGraph, importJobFunction } from '../../lib/dataflow/jobmodule.js';
import { createLogger } from '../../lib/logging.js';
import { buildDeploymentDescriptors } from '../../lib/task/deployment.js';
import type { TaskDeploymentDescriptor, TaskEvent, TaskLocation, TaskMetrics } from '../../lib/task/descriptor.js';
import { TaskRunner } from '../../lib/task/runner.js';
import { distRoot, launch } from '../support/launcher.js';
import { useTaskRunners } from '../support/task-job.js';
import { waitFor } from '../support/wait.js';

const CLUSTER = 'task-runtime-test';
const SECRET = 'task-runtime-secret-0123456789';
const MB = 1024 * 1024;
const log = createLogger({ node: 'test', level: process.env['LOG_LEVEL'] ?? 'silent' });

const jobModule = (name: string) => path.join(distRoot, 'test', 'fixtures', 'jobs', `${name}.js`);

async function jobGraphOf(modulePath: string, args: Record<string, unknown>, parallelism: number): Promise<JobGraph> {
  const job = await importJobFunction(pathToFileURL(modulePath).href);
  return buildJobGraph(buildStreamGraph(job, { parallelism, args }).describe());
}

/** Every event of every task, in arrival order. */
class Events {
  readonly all: TaskEvent[] = [];
  readonly on = (e: TaskEvent): void => {
    this.all.push(e);
  };
  terminal(executionId: string): TaskEvent | undefined {
    return this.all.find((e) => e.type === 'task.state' && e.executionId === executionId && e.state !== 'running');
  }
  terminals(executionId: string): number {
    return this.all.filter((e) => e.type === 'task.state' && e.executionId === executionId && e.state !== 'running').length;
  }
  collected(): unknown[] {
    return this.all.flatMap((e) => (e.type === 'task.collect' ? e.records : []));
  }
  metrics(executionId: string): TaskMetrics | undefined {
    let last: TaskMetrics | undefined;
    for (const e of this.all) if (e.type === 'task.metrics' && e.executionId === executionId) last = e.metrics;
    return last;
  }
}

const TEXT = [
  'to be or not to be',
  'that is the question',
  'whether tis nobler in the mind to suffer',
  'the slings and arrows of outrageous fortune',
  'or to take arms against a sea of troubles',
  'and by opposing end them',
];

function expectedCounts(lines: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const word of lines.flatMap((l) => l.split(' '))) counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
}

/** Final count per word: the running counts only grow, so the largest is the last. */
function finalCounts(records: unknown[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [word, n] of records as [string, number][]) counts.set(word, Math.max(counts.get(word) ?? 0, n));
  return counts;
}

function deploy(runner: TaskRunner, tdds: TaskDeploymentDescriptor[], events: Events, managedMemoryBytes = 128 * MB): void {
  for (const tdd of tdds) runner.deploy(tdd, { managedMemoryBytes }, events.on);
}

describe('task runtime - subtasks in worker threads, data plane between TaskRunners', function () {
  this.timeout(60_000);
  const { started, dirs } = useTaskRunners({ clusterId: CLUSTER, secret: SECRET, log });

  it('task runtime - word count over two TaskRunners in one process gives exact counts', async () => {
    const a = await started('te-a');
    const b = await started('te-b');
    const args = { lines: TEXT };
    const graph = await jobGraphOf(jobModule('wordcount'), args, 2);
    assert.deepEqual(
      graph.vertices.map((v) => [v.name, v.parallelism]),
      [
        ['Source: collection -> Flat Map', 2],
        ['Keyed Aggregation -> Filter', 2],
        ['Sink: collect', 1],
      ],
    );
    const tdds = buildDeploymentDescriptors(graph, {
      jobId: 'job-1',
      jobName: 'wordcount',
      attempt: 0,
      jobModulePath: jobModule('wordcount'),
      jobArgs: args,
      defaultParallelism: 2,
      placement: (_v, i) => (i % 2 === 0 ? a.location : b.location),
    });
    assert.equal(tdds.length, 5);
    const events = new Events();
    // Consumers first on one side, producers first on the other: credits and buffers are held until their task registers.
    deploy(a.runner, tdds.filter((t) => t.subtaskIndex % 2 === 0).reverse(), events);
    deploy(b.runner, tdds.filter((t) => t.subtaskIndex % 2 === 1), events);
    await waitFor('all subtasks to finish', () => tdds.every((t) => events.terminal(t.executionId)), { timeoutMs: 20_000 });
    for (const t of tdds) {
      const end = events.terminal(t.executionId);
      assert.equal(end?.type === 'task.state' && end.state, 'finished', `${t.executionId}: ${JSON.stringify(end)}`);
      assert.equal(events.terminals(t.executionId), 1);
    }
    assert.deepEqual(finalCounts(events.collected()), expectedCounts(TEXT));
    assert.deepEqual(a.runner.runningTasks(), []);
  });

  it('task runtime - word count with the second TaskRunner in a child process (data over TCP)', async () => {
    const a = await started('te-local');
    const args = { generatedLines: 20_000, vocabulary: 97 };
    const modulePath = jobModule('wordcount');
    const child = await launch('test/fixtures/jobs/task-runner-process.js', {
      name: 'te-remote',
      env: {
        TE_ID: 'te-remote',
        CLUSTER_ID: CLUSTER,
        CLUSTER_SECRET: SECRET,
        PEER_ID: 'te-local',
        PEER_ADDRESS: a.location.dataAddress,
        JOB_ID: 'job-remote',
        JOB_MODULE: modulePath,
        JOB_ARGS: JSON.stringify(args),
        PARALLELISM: '2',
      },
    });
    const remote: TaskLocation = { taskExecutorId: 'te-remote', dataAddress: child.ready['dataAddress'] as string };
    const tdds = buildDeploymentDescriptors(await jobGraphOf(modulePath, args, 2), {
      jobId: 'job-remote',
      jobName: 'remote-test',
      attempt: 0,
      jobModulePath: modulePath,
      jobArgs: args,
      defaultParallelism: 2,
      placement: (_v, i) => (i % 2 === 0 ? a.location : remote),
    });
    const mine = tdds.filter((t) => t.subtaskIndex % 2 === 0);
    const theirs = tdds.filter((t) => t.subtaskIndex % 2 === 1);
    assert.deepEqual((child.ready['deployed'] as string[]).sort(), theirs.map((t) => t.executionId).sort());
    const events = new Events();
    deploy(a.runner, mine, events);
    await waitFor('local subtasks to finish', () => mine.every((t) => events.terminal(t.executionId)), { timeoutMs: 30_000 });
    for (const t of mine) assert.equal((events.terminal(t.executionId) as { state: string }).state, 'finished');
    for (const t of theirs) await child.waitForLine((l) => l.includes(`"executionId":"${t.executionId}"`) && l.includes('"state":"finished"'), 10_000);
    const expected = new Map<string, number>();
    for (let i = 0; i < args.generatedLines * 4; i++) expected.set(`w${i % args.vocabulary}`, (expected.get(`w${i % args.vocabulary}`) ?? 0) + 1);
    assert.deepEqual(finalCounts(events.collected()), expected);
    await child.stop();
  });

  it('task runtime - a slow consumer bounds what the source produces (credit-based backpressure)', async () => {
    const settings = { bufferBytes: 4096, exclusiveCredits: 2, floatingCredits: 2, maxBacklog: 1, sourceBatchRecords: 64, metricsIntervalMs: 50 };
    const a = await started('te-bp', settings);
    const args = { slowMicros: 50 };
    const modulePath = jobModule('slow-sink');
    const graph = await jobGraphOf(modulePath, args, 1);
    const tdds = buildDeploymentDescriptors(graph, { jobId: 'job-bp', jobName: 'bp', attempt: 0, jobModulePath: modulePath, jobArgs: args, defaultParallelism: 1, placement: () => a.location });
    const [source, slow] = tdds as [TaskDeploymentDescriptor, TaskDeploymentDescriptor];
    assert.match(source.vertexName, /^Source/);
    const events = new Events();
    deploy(a.runner, tdds, events);
    // Numbers above 65535 pack into 5 bytes: records per buffer, and everything that may be in
    // flight or queued: credits + backlog + the buffer being filled + one source batch.
    const perBuffer = Math.ceil(settings.bufferBytes / 5);
    const inFlight = (settings.exclusiveCredits + settings.floatingCredits + settings.maxBacklog + 2) * perBuffer + settings.sourceBatchRecords;
    // Metrics of the two tasks are sampled at different moments: allow what the slow task does in ~2 intervals plus one buffer.
    const skew = perBuffer + Math.ceil((2 * settings.metricsIntervalMs * 1000) / args.slowMicros);
    for (const target of [5_000, 20_000, 40_000]) {
      const [src, sink] = await waitFor(`the slow task to process ${target} records`, () => {
        const s = events.metrics(slow.executionId);
        const p = events.metrics(source.executionId);
        return s !== undefined && p !== undefined && s.recordsIn >= target ? ([p, s] as const) : undefined;
      }, { timeoutMs: 20_000 });
      assert.ok(src.recordsOut <= sink.recordsIn + inFlight + skew, `source produced ${src.recordsOut}, slow task took ${sink.recordsIn}, bound ${inFlight + skew}`);
    }
    assert.ok((events.metrics(source.executionId)?.backPressuredMs ?? 0) > 100, 'the source spent time backpressured');
    // Cancel ends both as canceled, exactly once.
    a.runner.cancelJob('job-bp');
    await waitFor('both tasks to end', () => tdds.every((t) => events.terminal(t.executionId)));
    for (const t of tdds) {
      assert.equal((events.terminal(t.executionId) as { state: string }).state, 'canceled');
      assert.equal(events.terminals(t.executionId), 1);
    }
    assert.deepEqual(a.runner.runningTasks(), []);
  });

  it('task runtime - a task exceeding its slot memory fails alone, with TASK_OUT_OF_MEMORY', async () => {
    const a = await started('te-mem', { metricsIntervalMs: 50 });
    const events = new Events();
    const steady = buildDeploymentDescriptors(await jobGraphOf(jobModule('slow-sink'), { slowMicros: 1 }, 1), {
      jobId: 'job-steady',
      jobName: 'steady',
      attempt: 0,
      jobModulePath: jobModule('slow-sink'),
      jobArgs: { slowMicros: 1 },
      defaultParallelism: 1,
      placement: () => a.location,
    });
    deploy(a.runner, steady, events);
    const hog = buildDeploymentDescriptors(await jobGraphOf(jobModule('memory-hog'), {}, 1), {
      jobId: 'job-hog',
      jobName: 'hog',
      attempt: 0,
      jobModulePath: jobModule('memory-hog'),
      jobArgs: {},
      defaultParallelism: 1,
      placement: () => a.location,
    });
    assert.equal(hog.length, 1);
    deploy(a.runner, hog, events, 32 * MB);
    const hogId = (hog[0] as TaskDeploymentDescriptor).executionId;
    const end = await waitFor('the memory hog to fail', () => events.terminal(hogId), { timeoutMs: 30_000 });
    assert.equal(end.type === 'task.state' && end.state, 'failed');
    assert.equal(end.type === 'task.state' && end.error?.code, 'TASK_OUT_OF_MEMORY');
    assert.match((end as { error: { message: string } }).error.message, /memory limit of 32 MB/);
    // The other job's tasks still run and make progress.
    const sinkId = (steady[1] as TaskDeploymentDescriptor).executionId;
    const before = events.metrics(sinkId)?.recordsIn ?? 0;
    await waitFor('the steady job to make progress', () => (events.metrics(sinkId)?.recordsIn ?? 0) > before + 1000);
    assert.deepEqual(a.runner.runningTasks().sort(), steady.map((t) => t.executionId).sort());
    for (const t of steady) assert.equal(events.terminal(t.executionId), undefined);
  });

  it('task runtime - cancel of one task ends it as canceled, and a worker that cannot load its module fails', async () => {
    const a = await started('te-cancel');
    const events = new Events();
    const tdds = buildDeploymentDescriptors(await jobGraphOf(jobModule('slow-sink'), {}, 1), {
      jobId: 'job-c',
      jobName: 'c',
      attempt: 0,
      jobModulePath: jobModule('slow-sink'),
      jobArgs: {},
      defaultParallelism: 1,
      placement: () => a.location,
    });
    deploy(a.runner, tdds, events);
    const source = (tdds[0] as TaskDeploymentDescriptor).executionId;
    await waitFor('the source to run', () => events.all.some((e) => e.type === 'task.state' && e.executionId === source && e.state === 'running'));
    a.runner.cancel(source);
    const end = await waitFor('the source to end', () => events.terminal(source));
    assert.equal(end.type === 'task.state' && end.state, 'canceled');

    const broken = { ...(tdds[0] as TaskDeploymentDescriptor), jobId: 'job-broken', executionId: 'job-broken/0/x/0', jobModulePath: '/nonexistent/job.js' };
    a.runner.deploy(broken, { managedMemoryBytes: 64 * MB }, events.on);
    const failed = await waitFor('the broken task to fail', () => events.terminal(broken.executionId));
    assert.equal(failed.type === 'task.state' && failed.error?.code, 'INVALID_JOB_MODULE');
  });

  it('task runtime - spare task threads run deployments, are refilled when tasks end, and go on stop; another slot size starts its own', async () => {
    const runner = new TaskRunner({ taskExecutorId: 'te-spares', host: '127.0.0.1', clusterId: CLUSTER, secret: SECRET, log, workDir: dirs.make('te-spares'), spareWorkers: { count: 2, slot: { managedMemoryBytes: 128 * MB } } });
    try {
      const { dataAddress } = await runner.start();
      assert.equal(runner.spareWorkers, 2);
      const args = { lines: TEXT };
      const tdds = buildDeploymentDescriptors(await jobGraphOf(jobModule('wordcount'), args, 2), {
        jobId: 'job-spares',
        jobName: 'wordcount',
        attempt: 0,
        jobModulePath: jobModule('wordcount'),
        jobArgs: args,
        defaultParallelism: 2,
        placement: () => ({ taskExecutorId: 'te-spares', dataAddress }),
      });
      const events = new Events();
      deploy(runner, tdds, events);
      // Two of the five run on the spares (taken, not yet refilled), the other three on threads of their own.
      assert.equal(runner.spareWorkers, 0);
      await waitFor('all subtasks to finish', () => tdds.every((t) => events.terminal(t.executionId)), { timeoutMs: 20_000 });
      for (const t of tdds) {
        const end = events.terminal(t.executionId);
        assert.equal(end?.type === 'task.state' && end.state, 'finished', t.executionId);
      }
      assert.deepEqual(finalCounts(events.collected()), expectedCounts(TEXT));
      await waitFor('the spares to be refilled', () => runner.spareWorkers === 2);

      // A spare reports a module it cannot load as a thread of its own does; a slot of another size does not take one.
      const broken = { ...(tdds[0] as TaskDeploymentDescriptor), jobId: 'job-broken', executionId: 'job-broken/0/x/0', jobModulePath: '/nonexistent/job.js' };
      for (const [executionId, mb] of [['job-broken/0/x/0', 128], ['job-broken/0/x/1', 64]] as const) {
        runner.deploy({ ...broken, executionId }, { managedMemoryBytes: mb * MB }, events.on);
        const failed = await waitFor('the broken task to fail', () => events.terminal(executionId));
        assert.equal(failed.type === 'task.state' && failed.error?.code, 'INVALID_JOB_MODULE');
      }
    } finally {
      await runner.stop();
    }
    assert.equal(runner.spareWorkers, 0);
  });
});
