/** The messages the ResourceManager accepts. */
import type { ActorRef, WatchNotice } from '../../lib/index.js';
import type { JobMasterMessage } from '../jobmaster/protocol.js';
import type { AllocationReport, ExecutionReport, SlotReport, TaskExecutorMessage, TaskExecutorResources } from '../taskexecutor/protocol.js';
import type { SlotProfile, SlotRequirement } from './slot-manager.js';

export interface RegistrationSuccess {
  leaderSessionId: string;
  resourceManagerId: string;
  /**
   * How long the ResourceManager lets a TaskExecutor go without a heartbeat before it drops it
   * (its interval added): a TaskExecutor that hears nothing for that long has been dropped, or
   * cannot be reached, and registers again.
   */
  heartbeatSilenceMs: number;
  /**
   * Jobs whose kept slots the TaskExecutor frees at once, cancelling their tasks: this session's
   * own (it dropped the TaskExecutor once and restarted them), and jobs that nobody will adopt.
   * Part of the answer, so that no command can overtake it.
   */
  freeJobs?: string[];
}

export interface ClusterOverview {
  leaderSessionId: string;
  taskExecutors: Array<{
    id: string;
    dataAddress: string;
    node: string;
    slots: Array<{ index: number; managedMemoryBytes: number; jobId: string | null; allocationId: string | null; group: string | null }>;
    /** From its latest heartbeat answer, with when it arrived; null before the first. */
    resources: (TaskExecutorResources & { at: number }) | null;
  }>;
  slotsTotal: number;
  slotsFree: number;
  waitingJobs: Array<{ jobId: string; slots: number; sinceMs: number }>;
}

export type ResourceManagerMessage =
  | {
      type: 'rm.te.register';
      taskExecutorId: string;
      taskExecutor: ActorRef<TaskExecutorMessage>;
      dataAddress: string;
      slots: SlotProfile[];
      /** Slots it still holds for jobs of an earlier leader (kept through the leader change), and their tasks. */
      allocations?: AllocationReport[];
      executions?: ExecutionReport[];
      replyTo: ActorRef<RegistrationSuccess>;
    }
  /** A recovered job's JobMaster wants the reports of its tasks that survived the leader change. */
  | { type: 'rm.job.reconcile'; leaderSessionId: string; jobId: string; jobMaster: ActorRef<JobMasterMessage> }
  /** From the Master once it recovered its jobs: kept slots of any other job are freed (their job ended or was never stored). */
  | { type: 'rm.jobs.recovered'; leaderSessionId: string; jobIds: string[] }
  /** The JobMaster adopted the tasks (its slots stay allocated); late reports of the job are freed. */
  | { type: 'rm.job.adopted'; leaderSessionId: string; jobId: string }
  | { type: 'rm.slots.declare'; leaderSessionId: string; jobId: string; jobMaster: ActorRef<JobMasterMessage>; requirements: SlotRequirement[] }
  | { type: 'rm.slots.release'; leaderSessionId: string; jobId: string }
  | { type: 'rm.overview'; replyTo: ActorRef<ClusterOverview> }
  /** Tell every TaskExecutor to exit (the end of an application cluster). */
  | { type: 'rm.shutdown'; leaderSessionId: string; replyTo: ActorRef<{ taskExecutors: number }> }
  | { type: 'rm.heartbeat.report'; report: SlotReport; at: number }
  | WatchNotice;

/** Events only the ResourceManager itself generates: refused from the network. */
export const RESOURCE_MANAGER_LOCAL_EVENTS = ['rm.heartbeat.report'] as const satisfies ReadonlyArray<
  ResourceManagerMessage['type']
>;
