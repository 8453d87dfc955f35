/** The JobMaster's input and context, and the status it reports; shared by its machine's parts. */
import type { HeldBatch } from './collected.js';
import type { ActorEnv, ActorRef } from '../../lib/index.js';
import type { WireError } from '../../lib/errors.js';
import type { LeaderStores } from '../master/ha.js';
import type { MasterMessage, PreparedJob } from '../master/protocol.js';
import type { ResourceManagerMessage } from '../resourcemanager/protocol.js';
import type { AllocationReport, ExecutionReport, TaskExecutorMessage } from '../taskexecutor/protocol.js';
import { CheckpointCoordinator, type CompletedCheckpoint } from './checkpoint-coordinator.js';
import { ExecutionGraph } from './execution-graph.js';
import type { JobException } from './exceptions.js';
import type { SavepointRequest } from './protocol.js';
import type { CheckpointStores } from './checkpoint-stores.js';
import type { CheckpointFiles } from './checkpoint-files.js';
import type { SavepointFailures } from './savepoint-failures.js';
import { RestartBackoff } from './restart-strategy.js';
import type { RestorePoint } from './restore.js';
import { vertexStatusOf, type JobDetails, type JobState } from './status.js';

export interface JobMasterInput {
  env: ActorEnv;
  job: PreparedJob;
  leaderSessionId: string;
  master: ActorRef<MasterMessage>;
  resourceManager: ActorRef<ResourceManagerMessage>;
  /** HA stores of the current term; null in standalone mode (no checkpoints, no recovery). */
  stores: LeaderStores | null;
  /** Root of checkpoint storage; this job's checkpoints go to `<checkpointDir>/<jobId>/chk-<n>`. */
  checkpointDir: string;
  /** Where savepoints go unless the request names a directory. */
  savepointDir: string;
  slotRequestTimeoutMs: number;
  cancelTimeoutMs: number;
  /** How long a recovered job waits for reports of its running tasks before it restarts instead of adopting them. */
  reconcileTimeoutMs: number;
  /** Upper bound on records kept from collect() sinks. */
  maxCollectedRecords: number;
}

export interface Context extends JobMasterInput {
  /**
   * First execution attempt of this JobMaster. Attempts grow across leaders too (users, REST,
   * metrics and the drill tell executions apart by them; TaskExecutors drop data of older
   * attempts): each is recorded in etcd before it is deployed, and a new leader continues
   * after the last one recorded.
   */
  firstAttempt: number;
  graph: ExecutionGraph<ActorRef<TaskExecutorMessage>>;
  coordinator: CheckpointCoordinator | null;
  backoff: RestartBackoff;
  restorePoint: RestorePoint;
  /** Savepoints waiting for their checkpoint to complete, by checkpoint id. */
  savepoints: Map<number, SavepointRequest>;
  /**
   * Checkpoints aborted while their metadata was being stored, by id, with their directory: the
   * store may still land (then they are complete, and their files must stay); a failed store
   * removes the files.
   */
  abortedWhileStoring: Map<number, string>;
  /** The child that stores checkpoint metadata one at a time, for the JobMaster's whole life (checkpoint-stores.ts). */
  checkpointStores: CheckpointStores;
  /** The child that removes the files of aborted checkpoints, for the JobMaster's whole life (checkpoint-files.ts). */
  checkpointFiles: CheckpointFiles;
  /** The child that marks savepoints failed and then tells their requesters (savepoint-failures.ts). */
  savepointFailures: SavepointFailures;
  /**
   * A checkpoint trigger waiting for its id (and a savepoint for its record in etcd): drawn by
   * the `trigger` region of `running`, so leaving `running` (a restart, the job's end, a lost
   * leadership) cancels the draw, and a late id is never used.
   */
  trigger: CheckpointTrigger | null;
  /** A source ran out of input: it waits for a checkpoint triggered after that to finish. */
  finalCheckpointWanted: boolean;
  /** Set when a stop-with-savepoint completed: the job cancels next. */
  stopRequested: boolean;
  /** The completed savepoint of a stop-with-savepoint: the job ends `finished` with it. */
  stoppedWithSavepoint: string | null;
  /** collect() records released to the result (collected.ts). */
  collected: unknown[];
  /** collect() batches held until a checkpoint after them completes, and how many records they have. */
  held: HeldBatch[];
  heldCount: number;
  failure: WireError | null;
  /** Failures that ended an attempt, oldest first (bounded). */
  exceptions: JobException[];
  endedAt: number | null;
  restartDelayMs: number;
  /** Reconciling: what each TaskExecutor kept of this job through the leader change, by its id. */
  reports: Map<string, ReportedTasks>;
  /** Reconciling: the latest completed checkpoint (null: none), undefined until it is read. */
  reconcileLatest: CompletedCheckpoint | null | undefined;
  /** Leader changes this JobMaster's job went through: adopted, or restarted because it could not be. */
  failovers: Failover[];
}

export interface ReportedTasks {
  taskExecutorId: string;
  taskExecutor: ActorRef<TaskExecutorMessage>;
  dataAddress: string;
  allocations: AllocationReport[];
  executions: ExecutionReport[];
}

/** A leader change as the job saw it (the dashboard's timeline marks it). */
export interface Failover {
  at: number;
  /** The new leader's session (its term). */
  leaderSessionId: string;
  /** The attempt that runs on: the adopted one, or the restarted one. */
  attempt: number;
  adopted: boolean;
  reason: string;
}

/** A trigger on its way to `beginCheckpoint`. */
export interface CheckpointTrigger {
  savepoint: SavepointRequest | null;
  /** An id drawn ahead (see CheckpointCoordinator.takeSpareId), else one is drawn now. */
  spareId: number | null;
  /** The attempt that triggered it. */
  attempt: number;
  /** The savepoint's `in-progress` record write, once started. */
  recording?: Promise<SavepointRequest>;
}

/** The children spawned with the context: they live as long as the JobMaster, across its restarts. */
export interface JobMasterChildren {
  checkpointStores: CheckpointStores;
  checkpointFiles: CheckpointFiles;
  savepointFailures: SavepointFailures;
}

export function initialContext(input: JobMasterInput, children: JobMasterChildren): Context {
  const checkpointing = input.job.jobConfig.checkpointing;
  // Every line of this JobMaster names its job and its leader's term (the drill audits them).
  const env = { ...input.env, log: input.env.log.child({ jobId: input.job.jobId, leaderSessionId: input.leaderSessionId }) };
  const recorded = input.job.execution;
  const firstAttempt = recorded ? recorded.attempt + 1 : 0;
  return {
    ...input,
    env,
    firstAttempt,
    // A recovered job first tries to adopt the attempt that runs on (see `reconciling`).
    graph: new ExecutionGraph(input.job.jobId, input.job.jobGraph, mayAdopt(input) ? recorded!.attempt : firstAttempt),
    coordinator: checkpointing ? new CheckpointCoordinator(checkpointing, input.job.jobId) : null,
    backoff: new RestartBackoff(input.job.jobConfig.restartStrategy, recorded?.restarts ?? 0),
    restorePoint: null,
    savepoints: new Map(),
    abortedWhileStoring: new Map(),
    ...children,
    trigger: null,
    finalCheckpointWanted: false,
    stopRequested: false,
    stoppedWithSavepoint: null,
    collected: [],
    held: [],
    heldCount: 0,
    failure: null,
    exceptions: [],
    endedAt: null,
    restartDelayMs: 0,
    reports: new Map(),
    reconcileLatest: undefined,
    failovers: [],
  };
}

/** A job recovered by a new leader, with an attempt recorded by a leader before: its tasks may still run. */
export function mayAdopt(input: JobMasterInput): boolean {
  return input.job.recovered && input.job.execution !== undefined && input.stores !== null;
}

export function tellSafely<M>(context: Context, ref: ActorRef<M>, message: M): boolean {
  try {
    ref.tell(message);
    return true;
  } catch (err) {
    // The peer is unreachable; its loss reaches us through the ResourceManager.
    context.env.log.warn({ err, to: ref.path }, 'message not sent');
    return false;
  }
}

export function detailsOf(context: Context, state: JobState): JobDetails {
  const { job } = context;
  return {
    jobId: job.jobId,
    name: job.name,
    state,
    submittedAt: job.submittedAt,
    endedAt: context.endedAt,
    vertices: vertexStatusOf(job.jobGraph),
    subtasks: context.graph.status(),
    slots: context.graph.heldSlots().map((s) => ({ allocationId: s.allocationId, taskExecutorId: s.taskExecutorId, slotIndex: s.slotIndex, group: s.group })),
    attempt: context.graph.attempt,
    restarts: context.backoff.restartCount,
    checkpoints: context.coordinator?.stats() ?? [],
    restoredFrom: (context.restorePoint as CompletedCheckpoint | null)?.checkpointId ?? null,
    exceptions: context.exceptions.map((e) => ({ ...e })),
    failovers: context.failovers.map((f) => ({ ...f })),
    ...(context.failure ? { failure: context.failure } : {}),
    ...(context.stoppedWithSavepoint ? { stoppedWithSavepoint: context.stoppedWithSavepoint } : {}),
  };
}
