/** What the JobMaster reports about its job: plain data for the Master, the CLI and REST. */
import type { WireError } from '../../lib/errors.js';
import type { ExecutionState, TaskMetrics } from '../../lib/task/descriptor.js';
import type { BlobRef } from '../../lib/ha/blob-store.js';
import type { CheckpointStats } from './checkpoint-coordinator.js';
import type { JobGraph } from '../../lib/dataflow/jobgraph.js';
import type { JobException } from './exceptions.js';

/** The job's states, as the JobMaster machine names them. */
export const JobState = {
  Created: 'created',
  WaitingForResources: 'waitingForResources',
  /** A new leader's JobMaster collects the reports of the tasks still running, to adopt them. */
  Reconciling: 'reconciling',
  Running: 'running',
  Failing: 'failing',
  Restarting: 'restarting',
  Canceling: 'canceling',
  Finished: 'finished',
  Failed: 'failed',
  Canceled: 'canceled',
  Suspended: 'suspended',
} as const;
export type JobState = (typeof JobState)[keyof typeof JobState];

export interface SubtaskStatus {
  vertexId: string;
  index: number;
  executionId: string;
  state: ExecutionState;
  taskExecutorId: string | null;
  slotIndex: number | null;
  metrics: TaskMetrics;
  error?: WireError;
}

export interface VertexStatus {
  id: string;
  name: string;
  parallelism: number;
  slotSharingGroup: string;
  operatorIds: readonly string[];
  inputs: Array<{ source: string; partitioner: string }>;
}

/** The vertices of a job graph as status reports show them. */
export function vertexStatusOf(graph: JobGraph): VertexStatus[] {
  return graph.vertices.map((v) => ({
    id: v.id,
    name: v.name,
    parallelism: v.parallelism,
    slotSharingGroup: v.slotSharingGroup,
    operatorIds: v.operatorIds,
    inputs: v.inputs.map((i) => ({ source: i.source, partitioner: i.partitioner })),
  }));
}

export interface JobDetails {
  jobId: string;
  name: string;
  state: JobState;
  submittedAt: number;
  endedAt: number | null;
  vertices: VertexStatus[];
  subtasks: SubtaskStatus[];
  slots: Array<{ allocationId: string; taskExecutorId: string; slotIndex: number; group: string }>;
  /** Execution attempt: 0 for the first run, +1 per restart and per new leader; never goes back. */
  attempt: number;
  restarts: number;
  checkpoints: CheckpointStats[];
  /** The checkpoint or savepoint the current attempt restored, if any. */
  restoredFrom: number | null;
  /** Failures that ended an attempt of this JobMaster, oldest first (at most 100). */
  exceptions?: JobException[];
  /** Leader changes the job went through under this JobMaster: adopted (attempt unchanged) or restarted. */
  failovers?: Array<{ at: number; leaderSessionId: string; attempt: number; adopted: boolean; reason: string }>;
  failure?: WireError;
  /** Set when the job ended by a stop-with-savepoint: the savepoint to resume from. */
  stoppedWithSavepoint?: string;
}

/** What is kept of a job once it has ended. */
export interface JobResult {
  jobId: string;
  name: string;
  state: 'finished' | 'failed' | 'canceled';
  submittedAt: number;
  endedAt: number;
  /** Records of `collect()` sinks, in arrival order per subtask. */
  collected: unknown[];
  /** Where `collected` is when the result was read back from etcd (`collected` is then empty). */
  collectedRef?: BlobRef;
  failure?: WireError;
  /** Set when the job ended by a stop-with-savepoint: the savepoint to resume from. */
  stoppedWithSavepoint?: string;
  details: JobDetails;
}

/**
 * The result of a job that ended without its JobMaster reporting it: the JobMaster failed beyond
 * its supervision, or the job's stop-with-savepoint completed under an earlier leader.
 */
export function resultWithoutReport(
  job: { jobId: string; name: string; submittedAt: number },
  outcome: { state: JobResult['state']; endedAt: number; vertices?: VertexStatus[]; failure?: WireError; stoppedWithSavepoint?: string },
): JobResult {
  const { vertices = [], ...ended } = outcome;
  const base = { jobId: job.jobId, name: job.name, submittedAt: job.submittedAt, ...ended };
  return {
    ...base,
    collected: [],
    details: { ...base, vertices, subtasks: [], slots: [], attempt: 0, restarts: 0, checkpoints: [], restoredFrom: null },
  };
}
