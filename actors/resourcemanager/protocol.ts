/** The messages the ResourceManager accepts. */
import type { ActorRef, WatchNotice } from '../../lib/index.js';
import type { JobMasterMessage } from '../jobmaster/protocol.js';
import type { SlotReport, TaskExecutorMessage, TaskExecutorResources } from '../taskexecutor/protocol.js';
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
      replyTo: ActorRef<RegistrationSuccess>;
    }
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
