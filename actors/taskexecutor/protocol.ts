/** The messages a TaskExecutor accepts. Every command from a leader carries its session id. */
import type { ActorRef, WatchNotice } from '../../lib/index.js';
import type { CheckpointOptions, TaskDeploymentDescriptor, TaskEvent } from '../../lib/task/descriptor.js';
import type { JobMasterMessage } from '../jobmaster/protocol.js';

export interface SlotReport {
  taskExecutorId: string;
  slots: Array<{ index: number; allocationId: string | null; jobId: string | null }>;
  /** The process's resources when it answered (absent where nobody samples them). */
  resources?: TaskExecutorResources;
}

/** What a TaskExecutor process uses, sampled at each heartbeat (its task threads included). */
export interface TaskExecutorResources {
  /** Resident memory of the whole process. */
  rssBytes: number;
  /** V8 heap used by the main thread (each task thread has its own, capped at slotMemoryMb). */
  heapUsedBytes: number;
  /** CPU time used so far, user and system, every thread: rates come from two samples. */
  cpuMicros: number;
}

/** A slot this TaskExecutor holds for a job, as it reports it when it (re-)registers. */
export interface AllocationReport {
  slotIndex: number;
  allocationId: string;
  jobId: string;
  group: string;
  /** The leader session that allocated it (or adopted the tasks in it last). */
  leaderSessionId: string;
}

/** A task this TaskExecutor runs, as it reports it when it (re-)registers: a new leader may adopt it. */
export interface ExecutionReport {
  executionId: string;
  jobId: string;
  vertexId: string;
  subtaskIndex: number;
  attempt: number;
  allocationId: string;
  /** `deploying` until the task reported running. */
  state: 'deploying' | 'running';
  /** The leader session that deployed it (or adopted it last). */
  leaderSessionId: string;
}

export type TaskExecutorMessage =
  | { type: 'te.heartbeat'; leaderSessionId: string; replyTo: ActorRef<SlotReport> }
  | {
      type: 'te.slots.request';
      leaderSessionId: string;
      allocationId: string;
      jobId: string;
      slotIndex: number;
      group: string;
      jobMaster: ActorRef<JobMasterMessage>;
    }
  | { type: 'te.slots.free'; leaderSessionId: string; jobId: string }
  | {
      type: 'te.task.submit';
      leaderSessionId: string;
      allocationId: string;
      codeHash: string;
      tdd: TaskDeploymentDescriptor;
    }
  | { type: 'te.task.cancel'; leaderSessionId: string; executionId: string }
  /** Start checkpoint `checkpointId` at a source subtask: it snapshots and injects the barrier. */
  | { type: 'te.checkpoint.trigger'; leaderSessionId: string; executionId: string; checkpointId: number; options: CheckpointOptions }
  /** A checkpoint of the job completed (sinks commit) or was aborted (its partial work is dropped). */
  | {
      type: 'te.checkpoint.notify';
      leaderSessionId: string;
      jobId: string;
      /** The attempt whose checkpoint it is: only its subtasks hear it, never a stale one still running here. */
      attempt: number;
      checkpointId: number;
      outcome: 'complete' | 'abort';
    }
  /**
   * A new leader's JobMaster takes over these running tasks of `attempt` (no redeploy): they
   * report to `jobMaster` from now on and obey only its session or newer ones.
   */
  | {
      type: 'te.tasks.adopt';
      leaderSessionId: string;
      jobId: string;
      attempt: number;
      executionIds: string[];
      jobMaster: ActorRef<JobMasterMessage>;
    }
  /** The cluster is shutting down (application mode ended): exit. */
  | { type: 'te.shutdown'; leaderSessionId: string }
  /** From the task runtime on this process. */
  | { type: 'te.task.event'; event: TaskEvent }
  | WatchNotice;

/** From this process's leader retrieval: the leading Master moved (null: no leader now). */
export type TaskExecutorLocalEvent = { type: 'te.leader.changed'; masterNode: string | null };

/**
 * Events only the TaskExecutor's own process generates (leader retrieval, its task runtime):
 * refused from the network by the actor system, so that nobody can make it leave its leader.
 */
export const TASK_EXECUTOR_LOCAL_EVENTS = ['te.leader.changed', 'te.task.event'] as const satisfies ReadonlyArray<
  (TaskExecutorMessage | TaskExecutorLocalEvent)['type']
>;
