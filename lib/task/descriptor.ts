/**
 * What a JobMaster hands a TaskExecutor to run one subtask, and what the TaskExecutor reports
 * back. Plain data: it travels in actor messages (MessagePack) and into worker threads.
 */
import type { WireError } from '../errors.js';
import type { Partitioner } from '../dataflow/description.js';

/** Where a subtask runs: the TaskExecutor and the address of its data plane server. */
export interface TaskLocation {
  taskExecutorId: string;
  /** `host:port` of that TaskExecutor's data server. */
  dataAddress: string;
}

export interface ChannelPeer {
  subtaskIndex: number;
  location: TaskLocation;
}

/** One input edge of the subtask: all producer subtasks of the upstream vertex. */
export interface InputEdgeDescriptor {
  sourceVertexId: string;
  partitioner: Partitioner;
  producers: ChannelPeer[];
}

/** One output edge of the subtask: all consumer subtasks of the downstream vertex. */
export interface OutputEdgeDescriptor {
  targetVertexId: string;
  partitioner: Partitioner;
  consumers: ChannelPeer[];
}

export interface TaskDeploymentDescriptor {
  jobId: string;
  jobName: string;
  /** Execution attempt of the whole job (bumped on every restart); stale channels are dropped by it. */
  attempt: number;
  vertexId: string;
  vertexName: string;
  subtaskIndex: number;
  parallelism: number;
  maxParallelism: number;
  /** Unique per deployment: `${jobId}/${attempt}/${vertexId}/${subtaskIndex}`. */
  executionId: string;
  /** Absolute path of the job module on this TaskExecutor (fetched from the Master and cached). */
  jobModulePath: string;
  /** Arguments the job module's default function receives. */
  jobArgs: Record<string, unknown>;
  /** Default parallelism the job graph was built with (the worker rebuilds the same graph). */
  defaultParallelism: number;
  inputs: InputEdgeDescriptor[];
  outputs: OutputEdgeDescriptor[];
  /** Directory of checkpoint storage (shared by all TaskExecutors); null when checkpointing is off. */
  checkpointDir: string | null;
  /** State to start from (a checkpoint or savepoint); absent for a fresh start. */
  restore?: TaskRestore;
  /** False: every checkpoint writes all keyed state (absent: incremental, see lib/task/incremental.ts). */
  incrementalCheckpoints?: boolean;
}

/** Where one subtask's snapshot of one checkpoint was written. */
export interface StateHandle {
  vertexId: string;
  subtaskIndex: number;
  /** Absolute path of the snapshot file in checkpoint storage. */
  path: string;
  bytes: number;
  /** Incremental checkpoints: earlier checkpoints' files this snapshot refers to (kept while it is retained). */
  shared?: string[];
}

/**
 * What a redeployed subtask restores: the handles of EVERY subtask of its vertex in the chosen
 * checkpoint, so that it can take the key groups of its range from them (rescaling works the
 * same way), and the source positions it resumes from.
 */
export interface TaskRestore {
  checkpointId: number;
  handles: StateHandle[];
  /** Restored from a savepoint: no later checkpoint refers to its files. */
  savepoint?: boolean;
}

/** A checkpoint's options as the trigger carries them. */
export interface CheckpointOptions {
  /** Savepoints are kept outside retention and can start a new job; their dir is given. */
  savepoint: boolean;
  /** Directory this checkpoint's files go to (the task writes `<vertexId>-<subtask>.state` in it). */
  dir: string;
}

export function executionIdOf(jobId: string, attempt: number, vertexId: string, subtaskIndex: number): string {
  return `${jobId}/${attempt}/${vertexId}/${subtaskIndex}`;
}

/** The states of one subtask, as Flink names them. */
export const ExecutionState = {
  Created: 'created',
  Scheduled: 'scheduled',
  Deploying: 'deploying',
  Running: 'running',
  Finished: 'finished',
  Canceling: 'canceling',
  Canceled: 'canceled',
  Failed: 'failed',
} as const;
export type ExecutionState = (typeof ExecutionState)[keyof typeof ExecutionState];

export function isTerminal(state: ExecutionState): boolean {
  return state === 'finished' || state === 'canceled' || state === 'failed';
}

/** Counters a running task reports. */
export interface TaskMetrics {
  recordsIn: number;
  recordsOut: number;
  /** Time the task spent waiting for credit from its consumers (backpressure). */
  backPressuredMs: number;
}

/** What the task runtime tells the TaskExecutor about one subtask. */
export type TaskEvent =
  | { type: 'task.state'; executionId: string; state: 'running' | 'finished' | 'canceled' | 'failed'; error?: WireError; metrics?: TaskMetrics }
  | { type: 'task.collect'; executionId: string; records: unknown[]; epoch: number }
  | { type: 'task.metrics'; executionId: string; metrics: TaskMetrics }
  /** The subtask's snapshot of `checkpointId` is durably written. */
  | { type: 'task.checkpoint.ack'; executionId: string; checkpointId: number; handle: StateHandle }
  /** The subtask could not take its part of `checkpointId` (the checkpoint is aborted). */
  | { type: 'task.checkpoint.declined'; executionId: string; checkpointId: number; error: WireError }
  /** A source read all its input; it waits for a final checkpoint before ending (exactly-once sinks commit on it). */
  | { type: 'task.source.exhausted'; executionId: string };
