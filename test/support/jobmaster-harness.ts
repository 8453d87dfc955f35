/**
 * The real JobMaster machine, in one process, on a simulated clock. Its ResourceManager, its
 * TaskExecutors and its Master are test peers: actors of the same system that record what the
 * JobMaster sends them (and when, in simulated time) and through which the test answers in the
 * real protocol. Its HA stores are the in-memory ones, behind an OperationGate so that a test
 * holds a store operation in flight and lets it land or fail.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { ActorSystem, type ActorRef } from '../../lib/index.js';
import { SimulatedClock } from '../../lib/util/simulated-clock.js';
import {
  InMemoryCheckpointIdCounter,
  InMemoryCompletedCheckpointStore,
  InMemoryJobGraphStore,
  InMemoryJobResultStore,
  InMemoryLeaderElection,
  InMemorySavepointStore,
  InMemorySinkClaimStore,
} from '../../lib/ha/in-memory.js';
import type { CompletedCheckpointStore } from '../../lib/ha/types.js';
import type { CheckpointConfig, RestartStrategy } from '../../lib/dataflow/job-config.js';
import { buildJobGraph } from '../../lib/dataflow/jobgraph.js';
import { buildStreamGraph } from '../../lib/dataflow/jobmodule.js';
import type { TaskDeploymentDescriptor } from '../../lib/task/descriptor.js';
import { jobMasterMachine } from '../../actors/jobmaster/machine.js';
import { JOB_MASTER_LOCAL_EVENTS, type JobMasterMessage } from '../../actors/jobmaster/protocol.js';
import type { LeaderStores } from '../../actors/master/ha.js';
import type { MasterMessage, PreparedJob } from '../../actors/master/protocol.js';
import type { ResourceManagerMessage } from '../../actors/resourcemanager/protocol.js';
import type { TaskExecutorMessage } from '../../actors/taskexecutor/protocol.js';
import seedExample from '../../scripts/jobs/seed-example.js';
import { OperationGate } from './operation-gate.js';
import { TestPeer } from './test-peer.js';

export { TestPeer };

export interface HarnessOptions {
  restartStrategy: RestartStrategy;
  /** Null: the job does not checkpoint. */
  checkpointing?: Partial<CheckpointConfig> | null;
  slotRequestTimeoutMs?: number;
  cancelTimeoutMs?: number;
  reconcileTimeoutMs?: number;
  /** Runs before the JobMaster starts: what the stores hold for it (a new leader's view). */
  seed?: (stores: LeaderStores) => Promise<void>;
  /** The job as a new leader recovers it: its last recorded attempt (it may adopt the tasks of that attempt). */
  recovered?: { attempt: number; restarts: number };
}

const SECRET = 'jobmaster-unit-secret';

/** The seed example: five subtasks (a source among them) in two shared slots. */
function seedJobGraph() {
  return buildJobGraph(buildStreamGraph(seedExample, { args: {} }).describe());
}

export class JobMasterHarness {
  readonly gate = new OperationGate();
  readonly resourceManager: TestPeer<ResourceManagerMessage>;
  readonly master: TestPeer<MasterMessage>;
  /** Two TaskExecutors of one slot each. */
  readonly taskExecutors: Array<TestPeer<TaskExecutorMessage>>;
  jobMaster!: ActorRef<JobMasterMessage>;
  readonly job: PreparedJob;
  readonly checkpoints: CompletedCheckpointStore;
  readonly stores: LeaderStores;
  private allocations = 0;

  static async start(options: HarnessOptions): Promise<JobMasterHarness> {
    const clock = new SimulatedClock();
    const system = await ActorSystem.start({ clusterId: 'jobmaster-unit', secret: SECRET, listen: false, clock });
    const harness = new JobMasterHarness(clock, system, options);
    await options.seed?.(harness.stores);
    harness.spawnJobMaster();
    return harness;
  }

  private constructor(
    readonly clock: SimulatedClock,
    readonly system: ActorSystem,
    readonly options: HarnessOptions,
    private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'flinkish-jm-unit-')),
    readonly election = new InMemoryLeaderElection(),
    readonly leaderSessionId = election.grant(),
  ) {
    const guard = election.guard()!;
    const checkpointing: CheckpointConfig | null =
      options.checkpointing === null || options.checkpointing === undefined
        ? null
        : { intervalMs: 1000, timeoutMs: 60_000, minPauseMs: 0, maxConcurrent: 1, retained: 3, ...options.checkpointing };
    this.checkpoints = this.gate.wrap('checkpoints', new InMemoryCompletedCheckpointStore(guard, checkpointing?.retained ?? 1));
    const stores: LeaderStores = {
      guard,
      jobGraphs: this.gate.wrap('jobGraphs', new InMemoryJobGraphStore(guard)),
      jobResults: this.gate.wrap('jobResults', new InMemoryJobResultStore(guard)),
      checkpoints: () => this.checkpoints,
      checkpointIds: this.gate.wrap('checkpointIds', new InMemoryCheckpointIdCounter(guard)),
      savepoints: this.gate.wrap('savepoints', new InMemorySavepointStore(guard)),
      sinkClaims: this.gate.wrap('sinkClaims', new InMemorySinkClaimStore(guard, () => clock.now())),
    };
    this.stores = stores;
    this.resourceManager = new TestPeer(system, 'resourcemanager');
    this.master = new TestPeer(system, 'master');
    this.taskExecutors = [new TestPeer(system, 'taskexecutor-0'), new TestPeer(system, 'taskexecutor-1')];
    this.job = {
      jobId: 'job-1',
      name: 'seed example',
      codeHash: 'code-hash',
      code: new Uint8Array(),
      args: {},
      parallelism: 2,
      submittedAt: clock.now(),
      jobGraph: seedJobGraph(),
      jobConfig: { checkpointing, restartStrategy: options.restartStrategy },
      fromSavepoint: null,
      replyTo: null,
      recovered: options.recovered !== undefined,
      ...(options.recovered ? { execution: options.recovered } : {}),
    };
  }

  private spawnJobMaster(): void {
    const { system, options, stores } = this;
    this.jobMaster = system.spawn(`jobmaster-${this.job.jobId}`, jobMasterMachine, {
      input: (env) => ({
        env,
        job: this.job,
        leaderSessionId: this.leaderSessionId,
        master: this.master.ref,
        resourceManager: this.resourceManager.ref,
        stores,
        checkpointDir: path.join(this.dir, 'checkpoints'),
        savepointDir: path.join(this.dir, 'savepoints'),
        slotRequestTimeoutMs: options.slotRequestTimeoutMs ?? 30_000,
        cancelTimeoutMs: options.cancelTimeoutMs ?? 10_000,
        reconcileTimeoutMs: options.reconcileTimeoutMs ?? 5000,
        maxCollectedRecords: 1000,
      }),
      supervision: { strategy: 'stop' },
      localOnly: JOB_MASTER_LOCAL_EVENTS,
      reportUnhandled: true,
    });
  }

  async stop(): Promise<void> {
    await this.system.terminate();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The JobMaster's state, dotted (`restarting.waitingToRestart`), or `stopped`. */
  state(): string {
    const snapshot = this.system.snapshotOf(this.jobMaster) as { value: unknown } | undefined;
    return snapshot ? dotted(snapshot.value) : 'stopped';
  }

  /** Tell the JobMaster `message` (as its peers do) and let it be processed. */
  async send(message: JobMasterMessage): Promise<void> {
    this.jobMaster.tell(message);
    await this.clock.settle();
  }

  /** The TaskExecutor peer of `taskExecutorId`. */
  te(taskExecutorId: string): TestPeer<TaskExecutorMessage> {
    const te = this.taskExecutors.find((t) => t.ref.name === taskExecutorId);
    if (!te) throw new Error(`no TaskExecutor ${taskExecutorId}`);
    return te;
  }

  /** Offer what the last declaration asks for, one slot per TaskExecutor in turn. */
  async offerSlots(): Promise<void> {
    const declared = this.resourceManager.last('rm.slots.declare');
    if (!declared) throw new Error('the JobMaster declared no slots');
    let n = 0;
    for (const { group, count } of declared.requirements) {
      for (let i = 0; i < count; i++, n++) {
        const te = this.taskExecutors[n % this.taskExecutors.length]!;
        this.jobMaster.tell({
          type: 'jm.slots.offer',
          leaderSessionId: this.leaderSessionId,
          taskExecutorId: te.ref.name,
          taskExecutor: te.ref,
          dataAddress: `127.0.0.1:${7000 + (n % this.taskExecutors.length)}`,
          slots: [{ allocationId: `alloc-${++this.allocations}`, slotIndex: 0, group }],
        });
      }
    }
    await this.clock.settle();
  }

  /** Subtasks deployed for `attempt`, across the TaskExecutors, with the TaskExecutor each went to. */
  deployed(attempt: number): Array<{ te: string; tdd: TaskDeploymentDescriptor }> {
    return this.taskExecutors.flatMap((te) =>
      te.all('te.task.submit').filter((m) => m.tdd.attempt === attempt).map((m) => ({ te: te.ref.name, tdd: m.tdd })),
    );
  }

  /** Give the attempt its slots and report every subtask running; returns what was deployed. */
  async runAttempt(attempt: number): Promise<Array<{ te: string; tdd: TaskDeploymentDescriptor }>> {
    await this.offerSlots();
    const deployed = this.deployed(attempt);
    if (deployed.length === 0) throw new Error(`attempt ${attempt} was not deployed; the JobMaster is in ${this.state()}`);
    for (const { tdd } of deployed) this.jobMaster.tell({ type: 'jm.task.state', executionId: tdd.executionId, state: 'running' });
    await this.clock.settle();
    return deployed;
  }

  /** Confirm every cancellation sent for `attempt` so far. */
  async confirmCancellations(attempt: number): Promise<void> {
    const ids = new Set(this.deployed(attempt).map((d) => d.tdd.executionId));
    for (const te of this.taskExecutors) {
      for (const m of te.all('te.task.cancel')) {
        if (ids.has(m.executionId)) this.jobMaster.tell({ type: 'jm.task.state', executionId: m.executionId, state: 'canceled' });
      }
    }
    await this.clock.settle();
  }

  /** A subtask of `attempt` fails; the others confirm their cancellation. */
  async failOnce(attempt: number): Promise<void> {
    const [first] = this.deployed(attempt);
    await this.send({ type: 'jm.task.state', executionId: first!.tdd.executionId, state: 'failed', error: { code: 'USER_FAILURE', message: 'boom' } });
    await this.confirmCancellations(attempt);
  }

  /** Checkpoint ids triggered at the sources so far, in order. */
  triggered(): number[] {
    const ids = this.taskExecutors.flatMap((te) => te.all('te.checkpoint.trigger').map((m) => m.checkpointId));
    return [...new Set(ids)].sort((a, b) => a - b);
  }

  /** Every subtask of `attempt` acknowledges checkpoint `checkpointId`. */
  async acknowledge(attempt: number, checkpointId: number): Promise<void> {
    for (const { tdd } of this.deployed(attempt)) {
      this.jobMaster.tell({
        type: 'jm.checkpoint.ack',
        executionId: tdd.executionId,
        checkpointId,
        handle: { vertexId: tdd.vertexId, subtaskIndex: tdd.subtaskIndex, path: path.join(this.dir, 'checkpoints', this.job.jobId, `chk-${checkpointId}`, `${tdd.vertexId}-${tdd.subtaskIndex}`), bytes: 10 },
      });
    }
    await this.clock.settle();
  }

  /** Where checkpoint `checkpointId` of the job keeps its files. */
  checkpointDir(checkpointId: number): string {
    return path.join(this.dir, 'checkpoints', this.job.jobId, `chk-${checkpointId}`);
  }

  /** The outcomes of checkpoint `checkpointId` the TaskExecutors were told. */
  notified(checkpointId: number): string[] {
    return this.taskExecutors.flatMap((te) => te.all('te.checkpoint.notify').filter((m) => m.checkpointId === checkpointId).map((m) => m.outcome));
  }
}

function dotted(value: unknown): string {
  if (typeof value === 'string') return value;
  const [key, inner] = Object.entries(value as Record<string, unknown>)[0]!;
  return `${key}.${dotted(inner)}`;
}
