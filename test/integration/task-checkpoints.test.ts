import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildJobGraph, type JobGraph } from '../../lib/dataflow/jobgraph.js';
import { buildStreamGraph, importJobFunction } from '../../lib/dataflow/jobmodule.js';
import { createLogger } from '../../lib/logging.js';
import { buildDeploymentDescriptors } from '../../lib/task/deployment.js';
import type { StateHandle, TaskDeploymentDescriptor, TaskLocation, TaskRestore } from '../../lib/task/descriptor.js';
import { TaskRunner } from '../../lib/task/runner.js';
import { distRoot } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';
import { TaskEvents, committedLines, useTaskRunners } from '../support/task-job.js';

const CLUSTER = 'task-checkpoints-test';
const SECRET = 'task-checkpoints-secret-0123456789';
const log = createLogger({ node: 'test', level: process.env['LOG_LEVEL'] ?? 'silent' });
const MODULE = path.join(distRoot, 'test', 'fixtures', 'jobs', 'keyed-count-files.js');

interface JobArgs extends Record<string, unknown> {
  count: number;
  keys: number;
  sinkDir: string;
  keyedParallelism: number;
  pauseMsPer100: number;
}

async function jobGraphOf(args: JobArgs): Promise<JobGraph> {
  const job = await importJobFunction(pathToFileURL(MODULE).href);
  return buildJobGraph(buildStreamGraph(job, { parallelism: 2, args }).describe());
}

/** `["k<j>",n]` for n = 1..(records of key j), sorted. */
function expectedLines(args: JobArgs): string[] {
  const counts = new Array<number>(args.keys).fill(0);
  for (let i = 0; i < args.count; i++) counts[i % args.keys]!++;
  return counts.flatMap((n, k) => Array.from({ length: n }, (_, c) => JSON.stringify([`k${k}`, c + 1]))).sort();
}

/** The JobMaster's part, by hand: deploy, trigger, collect acks, notify. */
class Job {
  readonly events = new TaskEvents();
  tdds: TaskDeploymentDescriptor[] = [];
  /** Last acked handle per `vertex/subtask`: a finished subtask's final state stays part of later checkpoints. */
  private readonly lastHandles = new Map<string, StateHandle>();
  constructor(
    readonly root: string,
    readonly runners: { runner: TaskRunner; location: TaskLocation }[],
  ) {}

  get sources(): TaskDeploymentDescriptor[] {
    return this.tdds.filter((t) => t.vertexName.startsWith('Source'));
  }

  async deploy(args: JobArgs, attempt: number, restore?: TaskRestore): Promise<void> {
    const graph = await jobGraphOf(args);
    this.tdds = buildDeploymentDescriptors(graph, {
      jobId: 'job-cp',
      jobName: 'keyed-count-files',
      attempt,
      jobModulePath: MODULE,
      jobArgs: args,
      defaultParallelism: 2,
      placement: (_v, i) => (this.runners[i % this.runners.length] as { location: TaskLocation }).location,
      checkpointDir: path.join(this.root, 'checkpoints'),
      ...(restore ? { restoreFor: () => restore } : {}),
    });
    for (const tdd of this.tdds) {
      this.runnerOf(tdd).runner.deploy(tdd, { managedMemoryBytes: 128 << 20 }, this.events.on);
    }
  }

  runnerOf(tdd: TaskDeploymentDescriptor): { runner: TaskRunner } {
    return this.runners[tdd.subtaskIndex % this.runners.length] as { runner: TaskRunner };
  }

  /** Triggers the sources; resolves with the handles once every subtask acked. */
  async checkpoint(id: number, dir = path.join(this.root, 'checkpoints', `chk-${id}`)): Promise<TaskRestore> {
    for (const s of this.sources) this.runnerOf(s).runner.triggerCheckpoint(s.executionId, id, { savepoint: false, dir });
    const handles = await waitFor(`acks of checkpoint ${id}`, () => {
      assert.deepEqual(this.events.declines(id), [], `checkpoint ${id} declined`);
      const acks = this.events.acks(id);
      // Finished subtasks (a source whose final checkpoint completed, and what it fed alone) take no part, as in Flink.
      const acked = new Set(acks.map((h) => `${h.vertexId}/${h.subtaskIndex}`));
      if (this.tdds.every((t) => acked.has(`${t.vertexId}/${t.subtaskIndex}`) || this.events.terminal(t.executionId) !== undefined)) return acks;
      throw new Error(`acked by ${acks.map((h) => `${h.vertexId}-${h.subtaskIndex}`).join(', ')}; states ${this.states().join(', ')}`);
    });
    for (const h of handles) this.lastHandles.set(`${h.vertexId}/${h.subtaskIndex}`, h);
    // As the JobMaster must: subtasks that finished before this checkpoint contribute their last (final) handle.
    return { checkpointId: id, handles: this.tdds.map((t) => this.lastHandles.get(`${t.vertexId}/${t.subtaskIndex}`) as StateHandle) };
  }

  complete(id: number): void {
    const attempt = this.tdds[0]!.attempt;
    for (const r of this.runners) r.runner.notifyCheckpointComplete('job-cp', attempt, id);
  }

  sourceProgress(): number {
    return this.sources.reduce((n, s) => n + (this.events.metrics(s.executionId)?.recordsOut ?? 0), 0);
  }

  async allEnded(): Promise<void> {
    await waitFor('every subtask to end', () => this.tdds.every((t) => this.events.terminal(t.executionId)), { timeoutMs: 30_000 });
  }

  states(): string[] {
    return this.tdds.map((t) => (this.events.terminal(t.executionId) as { state?: string } | undefined)?.state ?? 'running');
  }

  /** Waits for every source to be exhausted, then takes the final checkpoint and lets the job end. */
  async finish(finalId: number): Promise<void> {
    await waitFor('the sources to be exhausted', () => {
      if (this.sources.every((s) => this.events.exhausted(s.executionId))) return true;
      throw new Error(this.tdds.map((t) => `${t.executionId}: ${this.states()[this.tdds.indexOf(t)]} ${JSON.stringify((this.events.terminal(t.executionId) as { error?: unknown } | undefined)?.error)} ${JSON.stringify(this.events.metrics(t.executionId))} exhausted=${this.events.exhausted(t.executionId)}`).join('; '));
    }, { timeoutMs: 30_000 });
    assert.ok(this.tdds.every((t) => this.events.terminal(t.executionId) === undefined || (this.events.terminal(t.executionId) as { state: string }).state === 'finished'), 'nothing fails');
    await this.checkpoint(finalId);
    this.complete(finalId);
    await this.allEnded();
    assert.deepEqual(this.states(), this.tdds.map(() => 'finished'));
  }
}

describe('task checkpoints - barriers, snapshots, restore and exactly-once files (no actors)', function () {
  this.timeout(90_000);
  const { started, dirs } = useTaskRunners({ clusterId: CLUSTER, secret: SECRET, log, settings: { metricsIntervalMs: 50 } });

  const setup = async (name: string, keyedParallelism: number): Promise<{ job: Job; args: JobArgs }> => {
    const root = dirs.make(name);
    const job = new Job(root, [await started(`${name}-a`), await started(`${name}-b`)]);
    return { job, args: { count: 40_000, keys: 37, sinkDir: path.join(root, 'out'), keyedParallelism, pauseMsPer100: 4 } };
  };

  it('task checkpoints - without failures, the final checkpoint commits everything exactly once', async () => {
    const { job, args } = await setup('cp-plain', 2);
    await job.deploy(args, 0);
    await waitFor('progress', () => job.sourceProgress() > 5_000);
    const cp1 = await job.checkpoint(1);
    assert.equal(cp1.handles.length, 4);
    for (const h of cp1.handles) assert.ok(existsSync(h.path) && h.bytes > 0);
    job.complete(1);
    await job.finish(2);
    assert.deepEqual(committedLines(args.sinkDir), expectedLines(args));
    assert.deepEqual(readdirSync(args.sinkDir).filter((f) => f.endsWith('.inprogress')), []);
  });

  it('task checkpoints - a subtask hears only the notices of its own attempt: a stale one commits nothing of a newer attempt\'s checkpoint', async () => {
    const { job, args } = await setup('cp-attempt', 2);
    await job.deploy(args, 3);
    await waitFor('progress', () => job.sourceProgress() > 5_000);
    await job.checkpoint(7);
    // Checkpoint 7 completed for attempt 4 (a newer attempt elsewhere): attempt 3's sinks must keep their files pending.
    for (const r of job.runners) r.runner.notifyCheckpointComplete('job-cp', 4, 7);
    for (const r of job.runners) r.runner.notifyCheckpointAborted('job-cp', 4, 7);
    await waitFor('more progress after the notices', () => job.sourceProgress() > 8_000);
    assert.deepEqual(committedLines(args.sinkDir), [], 'nothing committed on another attempt\'s notice');
    assert.ok(readdirSync(args.sinkDir).filter((f) => f.endsWith('.inprogress')).length >= 2, 'the pending files are still there');
    job.complete(7);
    await waitFor('the commit of its own checkpoint', () => committedLines(args.sinkDir).length > 0);
    await job.finish(8);
    assert.deepEqual(committedLines(args.sinkDir), expectedLines(args));
  });

  it('task checkpoints - after a failure, a restore from the last completed checkpoint gives exactly-once output', async () => {
    const { job, args } = await setup('cp-fail', 2);
    await job.deploy(args, 0);
    await waitFor('progress', () => job.sourceProgress() > 6_000);
    job.complete((await job.checkpoint(1)).checkpointId);
    await waitFor('progress', () => job.sourceProgress() > 14_000);
    const cp2 = await job.checkpoint(2);
    job.complete(2);
    await waitFor('progress past the checkpoint', () => job.sourceProgress() > 22_000);
    // A checkpoint that never completes: its pre-committed files must not show up.
    await job.checkpoint(3);
    await waitFor('more progress', () => job.sourceProgress() > 26_000);
    for (const r of job.runners) r.runner.cancelJob('job-cp');
    await job.allEnded();
    const before = committedLines(args.sinkDir).length;
    assert.ok(before > 0 && before < args.count, `committed ${before} lines before the failure`);

    await job.deploy(args, 1, cp2);
    await job.finish(4);
    assert.deepEqual(committedLines(args.sinkDir), expectedLines(args));
  });

  it('task checkpoints - a keyed operator snapshotted at parallelism 2 restores at 3 with the same counts', async () => {
    const { job, args } = await setup('cp-rescale', 2);
    await job.deploy(args, 0);
    await waitFor('progress', () => job.sourceProgress() > 10_000);
    const cp1 = await job.checkpoint(1);
    job.complete(1);
    await waitFor('progress past the checkpoint', () => job.sourceProgress() > 16_000);
    for (const r of job.runners) r.runner.cancelJob('job-cp');
    await job.allEnded();

    const rescaled = { ...args, keyedParallelism: 3 };
    await job.deploy(rescaled, 1, cp1);
    assert.equal(job.tdds.length, 5);
    await job.finish(2);
    assert.deepEqual(committedLines(args.sinkDir), expectedLines(args));
  });

  it('task checkpoints - a split source snapshotted at parallelism 2 restores at 3 with the same output', async () => {
    const { job, args } = await setup('cp-src', 2);
    await job.deploy(args, 0);
    await waitFor('progress', () => job.sourceProgress() > 6_000);
    const cp1 = await job.checkpoint(1);
    job.complete(1);
    await waitFor('progress past the checkpoint', () => job.sourceProgress() > 12_000);
    for (const r of job.runners) r.runner.cancelJob('job-cp');
    await job.allEnded();

    // Each split resumes, with its position, in whichever of the three subtasks owns it now.
    await job.deploy({ ...args, sourceParallelism: 3 }, 1, cp1);
    assert.equal(job.sources.length, 3);
    await job.finish(2);
    assert.deepEqual(committedLines(args.sinkDir), expectedLines(args));
  });

  it('task checkpoints - a checkpoint dir that cannot be written gives declines, not task failures', async () => {
    const { job, args } = await setup('cp-decline', 2);
    const blocker = path.join(job.root, 'not-a-dir');
    mkdirSync(job.root, { recursive: true });
    writeFileSync(blocker, 'x');
    await job.deploy(args, 0);
    await waitFor('progress', () => job.sourceProgress() > 2_000);
    for (const s of job.sources) job.runnerOf(s).runner.triggerCheckpoint(s.executionId, 1, { savepoint: false, dir: path.join(blocker, 'chk-1') });
    const declines = await waitFor('declines from every subtask', () => (job.events.declines(1).length === job.tdds.length ? job.events.declines(1) : undefined));
    for (const d of declines) assert.equal(d.type === 'task.checkpoint.declined' && d.error.code, 'CHECKPOINT_DECLINED');
    job.runners.forEach((r) => r.runner.notifyCheckpointAborted('job-cp', 0, 1));
    await job.finish(2);
    assert.deepEqual(committedLines(args.sinkDir), expectedLines(args));
  });
});
