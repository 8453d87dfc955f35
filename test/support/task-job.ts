/**
 * A job run on TaskRunners by hand, without actors: the JobMaster's part (deploy, trigger
 * checkpoints, collect acks, notify completion, restore) done by the test, for fast
 * integration tests of tasks, checkpoints and restores with real worker threads and data
 * connections. (Generalised from test/integration/task-checkpoints.test.ts.)
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildJobGraph, type JobGraph } from '../../lib/dataflow/jobgraph.js';
import { buildStreamGraph, importJobFunction } from '../../lib/dataflow/jobmodule.js';
import { buildDeploymentDescriptors } from '../../lib/task/deployment.js';
import type { StateHandle, TaskDeploymentDescriptor, TaskEvent, TaskLocation, TaskMetrics, TaskRestore } from '../../lib/task/descriptor.js';
import { TaskRunner } from '../../lib/task/runner.js';
import type { TaskSettings } from '../../lib/task/settings.js';
import type { Logger } from '../../lib/logging.js';
import { TempDirs } from './temp-dirs.js';
import { waitFor } from './wait.js';

export class TaskEvents {
  readonly all: TaskEvent[] = [];
  readonly on = (e: TaskEvent): void => {
    this.all.push(e);
  };
  terminal(id: string): TaskEvent | undefined {
    return this.all.find((e) => e.type === 'task.state' && e.executionId === id && e.state !== 'running');
  }
  acks(checkpointId: number): StateHandle[] {
    return this.all.flatMap((e) => (e.type === 'task.checkpoint.ack' && e.checkpointId === checkpointId ? [e.handle] : []));
  }
  declines(checkpointId: number): TaskEvent[] {
    return this.all.filter((e) => e.type === 'task.checkpoint.declined' && e.checkpointId === checkpointId);
  }
  exhausted(id: string): boolean {
    return this.all.some((e) => e.type === 'task.source.exhausted' && e.executionId === id);
  }
  metrics(id: string): TaskMetrics | undefined {
    let last: TaskMetrics | undefined;
    for (const e of this.all) if (e.type === 'task.metrics' && e.executionId === id) last = e.metrics;
    return last;
  }
}

/** Every line of the committed part files of a files sink directory, sorted. */
export function committedLines(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('part-'))
    .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter((l) => l.length > 0))
    .sort();
}

export interface TaskJobOptions {
  readonly jobId: string;
  readonly modulePath: string;
  readonly root: string;
  readonly runners: readonly { runner: TaskRunner; location: TaskLocation }[];
}

export type PlacedRunner = { runner: TaskRunner; location: TaskLocation };

export interface TaskRunnersOptions {
  readonly clusterId: string;
  readonly secret: string;
  readonly log: Logger;
  /** Settings of every runner, unless `started` is given its own. */
  readonly settings?: Partial<TaskSettings>;
}

/**
 * TaskRunners on loopback for the tests of one `describe`: `started(id)` starts one with its own
 * work directory; after each test every runner is stopped and every directory of `dirs` removed.
 */
export function useTaskRunners(options: TaskRunnersOptions): { started(id: string, settings?: Partial<TaskSettings>): Promise<PlacedRunner>; dirs: TempDirs } {
  const runners: TaskRunner[] = [];
  const dirs = new TempDirs();
  afterEach(async () => {
    try {
      await Promise.all(runners.splice(0).map((r) => r.stop()));
    } finally {
      dirs.removeAll();
    }
  });
  const started = async (id: string, settings = options.settings): Promise<PlacedRunner> => {
    const { clusterId, secret, log } = options;
    const runner = new TaskRunner({ taskExecutorId: id, host: '127.0.0.1', clusterId, secret, log, workDir: dirs.make(id), ...(settings ? { settings } : {}) });
    runners.push(runner);
    const { dataAddress } = await runner.start();
    return { runner, location: { taskExecutorId: id, dataAddress } };
  };
  return { started, dirs };
}

export class TaskJob {
  readonly events = new TaskEvents();
  tdds: TaskDeploymentDescriptor[] = [];
  /** Last acked handle per `vertex/subtask`: a finished subtask's final state stays part of later checkpoints. */
  private readonly lastHandles = new Map<string, StateHandle>();
  private runners: readonly PlacedRunner[];
  constructor(private readonly options: TaskJobOptions) {
    this.runners = options.runners;
  }

  /** Where the next deploy places subtasks (after a TaskRunner was stopped, say). */
  setRunners(runners: readonly PlacedRunner[]): void {
    this.runners = runners;
  }

  get sources(): TaskDeploymentDescriptor[] {
    return this.tdds.filter((t) => t.vertexName.startsWith('Source'));
  }

  async jobGraph(args: Record<string, unknown>): Promise<JobGraph> {
    const job = await importJobFunction(pathToFileURL(this.options.modulePath).href);
    return buildJobGraph(buildStreamGraph(job, { parallelism: 2, args }).describe());
  }

  async deploy(args: Record<string, unknown>, attempt: number, restore?: TaskRestore): Promise<void> {
    const graph = await this.jobGraph(args);
    const runners = this.runners;
    this.tdds = buildDeploymentDescriptors(graph, {
      jobId: this.options.jobId,
      jobName: path.basename(this.options.modulePath),
      attempt,
      jobModulePath: this.options.modulePath,
      jobArgs: args,
      defaultParallelism: 2,
      placement: (_v, i) => (runners[i % runners.length] as { location: TaskLocation }).location,
      checkpointDir: path.join(this.options.root, 'checkpoints'),
      ...(restore ? { restoreFor: () => restore } : {}),
    });
    for (const tdd of this.tdds) this.runnerOf(tdd).deploy(tdd, { managedMemoryBytes: 64 << 20 }, this.events.on);
  }

  runnerOf(tdd: TaskDeploymentDescriptor): TaskRunner {
    const runners = this.runners;
    return (runners[tdd.subtaskIndex % runners.length] as { runner: TaskRunner }).runner;
  }

  /** Triggers the sources; resolves with the handles once every subtask acked. */
  async checkpoint(id: number, savepoint = false): Promise<TaskRestore> {
    const dir = path.join(this.options.root, 'checkpoints', `chk-${id}`);
    for (const s of this.sources) if (this.events.terminal(s.executionId) === undefined) this.runnerOf(s).triggerCheckpoint(s.executionId, id, { savepoint, dir });
    const handles = await waitFor(`acks of checkpoint ${id}`, () => {
      assert.deepEqual(this.events.declines(id), [], `checkpoint ${id} declined`);
      const acks = this.events.acks(id);
      const acked = new Set(acks.map((h) => `${h.vertexId}/${h.subtaskIndex}`));
      if (this.tdds.every((t) => acked.has(`${t.vertexId}/${t.subtaskIndex}`) || this.events.terminal(t.executionId) !== undefined)) return acks;
      throw new Error(`acked by ${acks.map((h) => `${h.vertexId}-${h.subtaskIndex}`).join(', ')}; states ${this.states().join(', ')}`);
    });
    for (const h of handles) this.lastHandles.set(`${h.vertexId}/${h.subtaskIndex}`, h);
    return { checkpointId: id, handles: this.tdds.map((t) => this.lastHandles.get(`${t.vertexId}/${t.subtaskIndex}`) as StateHandle) };
  }

  complete(id: number): void {
    const attempt = (this.tdds[0] as TaskDeploymentDescriptor).attempt;
    for (const r of this.runners) r.runner.notifyCheckpointComplete(this.options.jobId, attempt, id);
  }

  /** Records the sources emitted so far (from their metrics). */
  sourceProgress(): number {
    return this.sources.reduce((n, s) => n + (this.events.metrics(s.executionId)?.recordsOut ?? 0), 0);
  }

  cancel(): void {
    for (const r of this.runners) r.runner.cancelJob(this.options.jobId);
  }

  async allEnded(): Promise<void> {
    await waitFor('every subtask to end', () => this.tdds.every((t) => this.events.terminal(t.executionId)), { timeoutMs: 30_000 });
  }

  states(): string[] {
    return this.tdds.map((t) => {
      const end = this.events.terminal(t.executionId) as { state?: string; error?: { message?: string } } | undefined;
      return end === undefined ? 'running' : `${end.state ?? '?'}${end.error?.message ? ` (${end.error.message})` : ''}`;
    });
  }

  /** Waits for every source to be exhausted, then takes the final checkpoint and lets the job end. */
  async finish(finalId: number): Promise<void> {
    await waitFor('the sources to be exhausted', () => {
      const failed = this.states().filter((s) => s.startsWith('failed'));
      assert.deepEqual(failed, [], 'nothing fails');
      return this.sources.every((s) => this.events.exhausted(s.executionId));
    }, { timeoutMs: 30_000 });
    await this.checkpoint(finalId);
    this.complete(finalId);
    await this.allEnded();
    assert.deepEqual(this.states(), this.tdds.map(() => 'finished'));
  }
}
