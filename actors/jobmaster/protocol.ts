/** The messages a JobMaster accepts. */
import type { ActorRef, WatchNotice } from '../../lib/index.js';
import type { WireError } from '../../lib/errors.js';
import type { TaskMetrics } from '../../lib/task/descriptor.js';
import type { TaskExecutorMessage } from '../taskexecutor/protocol.js';
import type { JobDetails } from './status.js';

export interface OfferedSlot {
  allocationId: string;
  slotIndex: number;
  group: string;
}

export type JobMasterMessage =
  | {
      type: 'jm.slots.offer';
      taskExecutorId: string;
      taskExecutor: ActorRef<TaskExecutorMessage>;
      dataAddress: string;
      slots: OfferedSlot[];
    }
  | { type: 'jm.task.state'; executionId: string; state: 'running' | 'finished' | 'canceled' | 'failed'; error?: WireError; metrics?: TaskMetrics }
  | { type: 'jm.task.collect'; executionId: string; records: unknown[] }
  | { type: 'jm.task.metrics'; executionId: string; metrics: TaskMetrics }
  | { type: 'jm.taskexecutor.lost'; leaderSessionId: string; taskExecutorId: string; reason: string }
  | { type: 'jm.deploy.failed'; executionId: string; error: WireError }
  | { type: 'jm.cancel'; replyTo: ActorRef<{ state: string }> }
  | { type: 'jm.status'; replyTo: ActorRef<JobDetails> }
  | WatchNotice;
