/** The messages a JobMaster accepts. */
import type { ActorRef, WatchNotice } from '../../lib/index.js';
import type { WireError } from '../../lib/errors.js';
import type { StateHandle, TaskMetrics } from '../../lib/task/descriptor.js';
import type { AllocationReport, ExecutionReport, TaskExecutorMessage } from '../taskexecutor/protocol.js';
import type { SavepointRecord } from '../../lib/ha/etcd-savepoints.js';
import type { JobDetails } from './status.js';

export interface SavepointRequest {
  dir: string;
  stop: boolean;
  /** The client's id of this request: it finds the outcome by it after a leader change. */
  requestId: string;
  replyTo: ActorRef<{ path: string }>;
  /** Its record in etcd, once written (before any barrier). */
  record?: SavepointRecord;
}

export interface OfferedSlot {
  allocationId: string;
  slotIndex: number;
  group: string;
}

export type JobMasterMessage =
  | {
      type: 'jm.slots.offer';
      /** The session whose ResourceManager allocated the slots: a JobMaster takes only its own term's. */
      leaderSessionId: string;
      taskExecutorId: string;
      taskExecutor: ActorRef<TaskExecutorMessage>;
      dataAddress: string;
      slots: OfferedSlot[];
    }
  | { type: 'jm.task.state'; executionId: string; state: 'running' | 'finished' | 'canceled' | 'failed'; error?: WireError; metrics?: TaskMetrics }
  /** `epoch`: the checkpoint whose barrier the records followed (0: none); held until a later checkpoint completes. */
  | { type: 'jm.task.collect'; executionId: string; records: unknown[]; epoch: number }
  | { type: 'jm.task.metrics'; executionId: string; metrics: TaskMetrics }
  | { type: 'jm.checkpoint.ack'; executionId: string; checkpointId: number; handle: StateHandle }
  | { type: 'jm.checkpoint.declined'; executionId: string; checkpointId: number; error: WireError }
  | { type: 'jm.source.exhausted'; executionId: string }
  | { type: 'jm.taskexecutor.lost'; leaderSessionId: string; taskExecutorId: string; reason: string }
  /** From the ResourceManager: a TaskExecutor kept these slots and tasks of the job through the leader change. */
  | {
      type: 'jm.executions.reported';
      leaderSessionId: string;
      taskExecutorId: string;
      taskExecutor: ActorRef<TaskExecutorMessage>;
      dataAddress: string;
      allocations: AllocationReport[];
      executions: ExecutionReport[];
    }
  | { type: 'jm.deploy.failed'; executionId: string; error: WireError }
  | { type: 'jm.cancel'; replyTo: ActorRef<{ state: string }> }
  /** Take a savepoint into `dir` (default: the cluster's savepoint directory); with `stop`, cancel after it. */
  | { type: 'jm.savepoint'; dir?: string; stop: boolean; requestId: string; replyTo: ActorRef<{ path: string }> }
  /** Internal: the completed checkpoint's metadata is in the store (or could not be stored). */
  | { type: 'jm.checkpoint.stored'; checkpointId: number }
  | { type: 'jm.checkpoint.storeFailed'; checkpointId: number; error: WireError }
  /** Internal, delayed: the checkpoint's timeout has passed; it is aborted if still pending. */
  | { type: 'jm.checkpoint.timeout'; checkpointId: number }
  /** Internal, delayed: a queued savepoint has waited its longest; periodic checkpoints in flight yield. */
  | { type: 'jm.savepoint.waited'; ticket: number }
  | { type: 'jm.status'; replyTo: ActorRef<JobDetails> }
  /** The Master lost leadership: stop acting; the job is not ended, a new leader takes it over. */
  | { type: 'jm.suspend' }
  | WatchNotice;

/** Events only the JobMaster itself or its Master (same process) generates: refused from the network. */
export const JOB_MASTER_LOCAL_EVENTS = [
  'jm.checkpoint.stored',
  'jm.checkpoint.storeFailed',
  'jm.checkpoint.timeout',
  'jm.savepoint.waited',
  'jm.suspend',
] as const satisfies ReadonlyArray<JobMasterMessage['type']>;
