/**
 * A simulated cluster: the real Master, ResourceManager, JobMaster and TaskExecutor machines in
 * actor systems of one process, each system a SimNode with its own clock, on the simulated
 * network and etcd, the TaskExecutors running the simulated task runtime. Processes crash (they
 * keep only what etcd and checkpoint storage hold), restart, pause and resume.
 */
import type { InspectionEvent } from 'xstate';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { ActorSystem, type ActorRef } from '../index.js';
import { createLogger, type Logger } from '../logging.js';
import { masterMachine } from '../../actors/master/machine.js';
import { MASTER_LOCAL_EVENTS, type MasterMessage } from '../../actors/master/protocol.js';
import type { StoredJob } from '../../actors/master/ha.js';
import { taskExecutorMachine } from '../../actors/taskexecutor/machine.js';
import { TASK_EXECUTOR_LOCAL_EVENTS } from '../../actors/taskexecutor/protocol.js';
import type { CodeCache } from '../../actors/taskexecutor/code-cache.js';
import { buildJobGraph } from '../dataflow/jobgraph.js';
import { buildStreamGraph } from '../dataflow/jobmodule.js';
import type { StreamEnvironment } from '../dataflow/environment.js';
import { Rng } from './rng.js';
import { Scheduler, SimNode } from './scheduler.js';
import { SimNetwork } from './network.js';
import { ETCD, SimElection, SimEtcd, SimRetrieval } from './etcd.js';
import { SimDataflow } from './dataflow.js';
import { SimTaskRuntime, type DeploymentAudit } from './task-runtime.js';
import type { Mutant } from './mutants.js';
import { mutantSwitches } from './mutants.js';

export const JOB_ID = 'sim-job';
const SECRET = 'simulated-cluster-secret';
const SLOTS_PER_TASK_EXECUTOR = 2;

export interface ClusterShape {
  masters: number;
  taskExecutors: number;
  records: number;
  keys: number;
}

export const DEFAULT_SHAPE: ClusterShape = { masters: 2, taskExecutors: 3, records: 600, keys: 5 };

/** What the cluster reports to the invariant checker as it happens. */
export interface ClusterAudit extends DeploymentAudit {
  inspected(component: string, event: InspectionEvent): void;
  /** The simulation itself broke (a process could not start): never a finding about the machines. */
  failed(why: string): void;
}

export interface Process {
  readonly name: string;
  readonly node: SimNode;
  readonly nodeId: string;
  system: ActorSystem | null;
  start(): Promise<void>;
}

export class MasterProcess implements Process {
  system: ActorSystem | null = null;
  election: SimElection | null = null;
  master: ActorRef<MasterMessage> | null = null;

  constructor(
    private readonly cluster: SimCluster,
    readonly name: string,
    readonly node: SimNode,
    readonly nodeId: string,
  ) {}

  async start(): Promise<void> {
    const { cluster } = this;
    const system = await cluster.startSystem(this);
    const client = cluster.etcd.client(this.node, this.nodeId);
    const election = new SimElection(cluster.etcd, client);
    const master = system.spawn('master', masterMachine, {
      input: (env) => ({
        env,
        settings: {
          workDir: cluster.nowhere,
          checkpointDir: path.join(cluster.nowhere, 'checkpoints'),
          savepointDir: path.join(cluster.nowhere, 'savepoints'),
          slotRequestTimeoutMs: 20_000,
          cancelTimeoutMs: 5000,
          heartbeatIntervalMs: 1000,
          heartbeatTimeoutMs: 4000,
          maxCollectedRecords: 1000,
          defaultParallelism: 2,
          jobBuildTimeoutMs: 5000,
          jobBuildMemoryMb: 64,
          jobModuleMaxBytes: 1 << 20,
        },
        ha: {
          storesForCurrentTerm: () => {
            const guard = election.guard();
            return guard ? cluster.etcd.storesFor(client, guard) : null;
          },
        },
      }),
      supervision: { strategy: 'stop' },
      localOnly: MASTER_LOCAL_EVENTS,
    });
    election.campaign(
      {
        grantLeadership: (sessionId) => master.tell({ type: 'master.leadership.granted', sessionId }),
        revokeLeadership: () => master.tell({ type: 'master.leadership.revoked' }),
      },
      system.node,
    );
    this.system = system;
    this.election = election;
    this.master = master;
  }

  crash(): void {
    void this.election?.close();
    this.election = null;
    this.system = null;
    this.master = null;
  }
}

export class TaskExecutorProcess implements Process {
  system: ActorSystem | null = null;
  runtime: SimTaskRuntime | null = null;
  taskExecutorId = '';

  constructor(
    private readonly cluster: SimCluster,
    readonly name: string,
    readonly node: SimNode,
    readonly nodeId: string,
  ) {}

  async start(): Promise<void> {
    const { cluster } = this;
    const system = await cluster.startSystem(this);
    // A restarted process is a new TaskExecutor, as a real one (new id, nothing kept).
    const taskExecutorId = `${this.name}#${this.node.incarnation}`;
    const runtime = new SimTaskRuntime(taskExecutorId, this.node, cluster.dataflow, cluster.rng, { batch: 3, emitIntervalMs: 50 }, cluster.switches.task, cluster.audit);
    cluster.dataflow.taskExecutors.set(taskExecutorId, { node: this.node, nodeId: this.nodeId });
    // The code is fetched from the Master as the real cache does; nothing is written.
    const codeCache = {
      fetch: (hash: string, master: ActorRef<MasterMessage>) => master.ask({ type: 'master.code.get', hash }, { timeoutMs: 5000 }).then(() => `/simulated/${hash}.mjs`),
    } as unknown as CodeCache;
    const te = system.spawn('taskexecutor', taskExecutorMachine, {
      input: (env) => ({
        env,
        taskExecutorId,
        slots: Array.from({ length: SLOTS_PER_TASK_EXECUTOR }, (_, index) => ({ index, managedMemoryBytes: 64 << 20 })),
        dataAddress: this.nodeId.replace(/:62/, ":72"),
        runtime,
        codeCache,
        registrationTimeoutMs: 3000,
        registrationRetryMs: 500,
        adoptionTimeoutMs: 15_000,
        onShutdown: () => undefined,
        ...(cluster.switches.teAcceptAnySession ? { testHooks: { acceptAnySession: true } } : {}),
      }),
      localOnly: TASK_EXECUTOR_LOCAL_EVENTS,
    });
    const retrieval = new SimRetrieval(cluster.etcd, cluster.etcd.client(this.node, this.nodeId));
    retrieval.start((leader) => te.tell({ type: 'te.leader.changed', masterNode: leader?.address ?? null }));
    this.system = system;
    this.runtime = runtime;
    this.taskExecutorId = taskExecutorId;
  }

  crash(): void {
    this.runtime?.kill();
    this.runtime = null;
    this.system = null;
  }
}

export class SimCluster {
  readonly scheduler = new Scheduler();
  readonly rng: Rng;
  readonly network: SimNetwork;
  readonly etcd: SimEtcd;
  readonly dataflow: SimDataflow;
  readonly masters: MasterProcess[] = [];
  readonly taskExecutors: TaskExecutorProcess[] = [];
  readonly switches: ReturnType<typeof mutantSwitches>;
  /** A directory that is never created: the JobMaster's checkpoint file clean-up finds nothing there. */
  readonly nowhere = path.join(os.tmpdir(), 'flinkish-sim-nothing-here');
  private readonly log: Logger = createLogger({ name: 'sim', level: process.env['SIM_LOG_LEVEL'] ?? 'silent' });

  constructor(
    seed: number,
    readonly shape: ClusterShape,
    mutant: Mutant | null,
    readonly audit: ClusterAudit,
  ) {
    this.rng = new Rng(seed);
    this.switches = mutantSwitches(mutant);
    this.network = new SimNetwork(this.scheduler, this.rng, { minLatencyMs: 1, maxLatencyMs: 15, heartbeatTimeoutMs: 3000, dialFailMs: 200 });
    this.etcd = new SimEtcd(
      this.scheduler,
      this.network,
      this.rng,
      { leaseTtlMs: 3000, stepDownMarginMs: 500, requestTimeoutMs: 1500, minWatchDelayMs: 1, maxWatchDelayMs: 30, lateWatchChance: 0.1, lateWatchMs: 1500 },
      this.switches.etcd,
    );
    this.dataflow = new SimDataflow(this.scheduler, this.network, shape.records, shape.keys);
    for (let i = 1; i <= shape.masters; i++) {
      const name = `master-${i}`;
      this.masters.push(new MasterProcess(this, name, new SimNode(name, this.scheduler), `127.0.0.1:${6100 + i}`));
    }
    for (let i = 1; i <= shape.taskExecutors; i++) {
      const name = `te-${i}`;
      this.taskExecutors.push(new TaskExecutorProcess(this, name, new SimNode(name, this.scheduler), `127.0.0.1:${6200 + i}`));
    }
  }

  get processes(): Process[] {
    return [...this.masters, ...this.taskExecutors];
  }

  /** Every node id, and etcd: the endpoints a partition can separate. */
  get endpoints(): string[] {
    return [...this.processes.map((p) => p.nodeId), ETCD];
  }

  process(name: string): MasterProcess | TaskExecutorProcess {
    const p = [...this.masters, ...this.taskExecutors].find((x) => x.name === name);
    if (!p) throw new Error(`no process ${name}`);
    return p;
  }

  /** The job, submitted before the simulation starts: in etcd, for the first leader to recover. */
  async submitJob(): Promise<void> {
    const { records, keys } = this.shape;
    const job = (env: StreamEnvironment) => {
      env
        .fromSequence(0, records - 1)
        .setParallelism(2)
        .name('Source')
        .keyBy((n: number) => n % keys)
        .reduce((a: number, b: number) => a + b)
        .setParallelism(2)
        .name('KeyedCount')
        .print()
        .setParallelism(2)
        .name('Sink');
    };
    const code = new TextEncoder().encode(`// the simulated keyed count (${records} records, ${keys} keys)`);
    const stored: StoredJob = {
      jobId: JOB_ID,
      name: 'simulated keyed count',
      codeHash: createHash('sha256').update(code).digest('hex'),
      code,
      args: {},
      parallelism: 2,
      submittedAt: this.scheduler.now,
      jobGraph: buildJobGraph(buildStreamGraph(job, { args: {} }).describe()),
      jobConfig: {
        checkpointing: { intervalMs: 400, timeoutMs: 4000, minPauseMs: 0, maxConcurrent: 1, retained: 2 },
        restartStrategy: { type: 'fixed-delay', attempts: 1000, delayMs: 300 },
      },
      fromSavepoint: null,
    };
    await this.etcd.bootstrap(() => this.etcd.jobGraphs.put(JOB_ID, stored));
  }

  /** An actor system for one incarnation of `process`, on its own clock and the simulated network. */
  async startSystem(process: Process): Promise<ActorSystem> {
    const { node, nodeId, name } = process;
    return ActorSystem.start({
      clusterId: 'simulation',
      secret: SECRET,
      name,
      logger: this.log.child({ node: name }),
      clock: node.clock,
      askTimeoutMs: 5000,
      transport: (codec, handlers, log) => this.network.transport(node, nodeId, codec, handlers, log),
      inspect: (actor, event) => this.audit.inspected(`${name}#${node.incarnation}/${actor}`, event),
    });
  }

  /** Crash a running process (one already down stays down). */
  crash(process: MasterProcess | TaskExecutorProcess): void {
    if (process.node.crashed) return;
    process.node.crash();
    this.network.crashed(process.nodeId);
    process.crash();
  }

  async restart(process: MasterProcess | TaskExecutorProcess): Promise<void> {
    if (!process.node.crashed) return;
    process.node.restart();
    await process.start();
  }

  /** Restart, and a process that cannot start is the simulator's own failure, reported as such. */
  restartLoudly(process: MasterProcess | TaskExecutorProcess): void {
    this.restart(process).catch((err: unknown) => this.audit.failed(`${process.name} did not restart: ${(err as Error).stack ?? String(err)}`));
  }

  /** Start, reported like restartLoudly. */
  startLoudly(process: Process): void {
    process.start().catch((err: unknown) => this.audit.failed(`${process.name} did not start: ${(err as Error).stack ?? String(err)}`));
  }

  pause(process: Process): void {
    if (!process.node.running) return;
    process.node.pause();
    this.network.paused(process.nodeId);
  }

  resume(process: Process): void {
    if (!process.node.paused) return;
    process.node.resume();
  }
}
