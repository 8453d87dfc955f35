/**
 * Messages between a task's worker thread and its TaskRunner (structured clone over the
 * worker's MessagePort). Data-plane messages carry whole buffers (transferred, not copied);
 * nothing here is per record.
 */
import type { WireError } from '../errors.js';
import type { DataMessage } from '../network/messages.js';
import type { CheckpointOptions, StateHandle, TaskDeploymentDescriptor, TaskMetrics } from './descriptor.js';
import type { TaskSettings } from './settings.js';
import type { S3Settings } from '../storage/types.js';

/** `workerData` of a task's worker. */
export interface WorkerInit {
  readonly tdd: TaskDeploymentDescriptor;
  readonly settings: TaskSettings;
  /** Off-heap (Buffer/ArrayBuffer) memory the task may hold: the slot's managed memory. */
  readonly offHeapLimitBytes?: number;
  /** How the TaskExecutor reaches s3:// checkpoint storage (no credentials: the SDK's chain reads them). */
  readonly storage?: S3Settings;
}

/** To a spare task thread (spare-workers.ts), first and once: the task it runs. */
export interface SpareInitMessage {
  t: 'init';
  init: WorkerInit;
}

/** The data connection to a TaskExecutor closed: channels to it that have not ended are broken. */
export interface PeerLostMessage {
  t: 'peerLost';
  taskExecutorId: string;
  reason: string;
}

/** Checkpoint control from the TaskRunner (the JobMaster's coordinator, via the TaskExecutor). */
export type CheckpointControl =
  /** Only to source subtasks: snapshot, emit a barrier, continue. */
  | { t: 'cp.trigger'; checkpointId: number; options: CheckpointOptions }
  /** Every subtask of the job: the checkpoint is complete (sinks commit, exhausted sources end). */
  | { t: 'cp.complete'; checkpointId: number }
  | { t: 'cp.aborted'; checkpointId: number }
  /** The leader is gone: whatever checkpoint this subtask has in flight is abandoned (a new leader starts a newer one). */
  | { t: 'cp.abortPending' };

export type ToWorker = DataMessage | PeerLostMessage | CheckpointControl;

export type FromWorker =
  | DataMessage
  | { t: 'state'; state: 'running' | 'finished' | 'failed'; error?: WireError; metrics?: TaskMetrics }
  /** Records of collect() sinks emitted after the barrier of checkpoint `epoch` (0: before any): released once a later checkpoint completes. */
  | { t: 'collect'; records: unknown[]; epoch: number }
  | { t: 'metrics'; metrics: TaskMetrics }
  /** Lines of print sinks, written to the process's stdout by the main thread (in order, none lost on exit). */
  | { t: 'stdout'; text: string }
  /** The snapshot of `checkpointId` is durably written. */
  | { t: 'cp.ack'; checkpointId: number; handle: StateHandle }
  | { t: 'cp.declined'; checkpointId: number; error: WireError }
  /** The source read all its input and waits for a checkpoint triggered after this to complete. */
  | { t: 'cp.exhausted' }
  /** A spare thread (spare-workers.ts) has loaded the runtime and waits for its task. */
  | { t: 'spare.ready' };
