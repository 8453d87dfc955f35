/**
 * Errors of the task runtime. Each has a stable `code` that travels on the wire to the
 * JobMaster (in a failed task's state event); callers branch on the code, never on the text.
 */
import { RuntimeError } from '../errors.js';

export const TaskErrorCode = {
  OutOfMemory: 'TASK_OUT_OF_MEMORY',
  WorkerCrashed: 'TASK_WORKER_CRASHED',
  WorkerExited: 'TASK_WORKER_EXITED',
  DuplicateDeployment: 'TASK_DUPLICATE_DEPLOYMENT',
  UnknownVertex: 'TASK_UNKNOWN_VERTEX',
  InvalidDeployment: 'TASK_INVALID_DEPLOYMENT',
  RunnerStopped: 'TASK_RUNNER_STOPPED',
  CheckpointDeclined: 'CHECKPOINT_DECLINED',
  CheckpointSubsumed: 'CHECKPOINT_SUBSUMED',
  RestoreFailed: 'RESTORE_FAILED',
  SinkCommitFailed: 'SINK_COMMIT_FAILED',
} as const;
export type TaskErrorCode = (typeof TaskErrorCode)[keyof typeof TaskErrorCode];

/** The task's worker exceeded the heap its slot allows and was stopped; the process lives on. */
export class TaskOutOfMemoryError extends RuntimeError {
  override name = 'TaskOutOfMemoryError';
  constructor(executionId: string, limitMb: number, cause?: unknown) {
    super(TaskErrorCode.OutOfMemory, `task ${executionId} exceeded its memory limit of ${limitMb} MB (the slot's managed memory) and was stopped`, {
      details: { executionId, limitMb },
      cause,
    });
  }
}

/** The task's worker held more Buffer/ArrayBuffer memory than its slot's share (measured, see offheap-monitor.ts). */
export class TaskOffHeapMemoryError extends RuntimeError {
  override name = 'TaskOffHeapMemoryError';
  constructor(executionId: string, limitMb: number, usedMb: number) {
    super(TaskErrorCode.OutOfMemory, `task ${executionId} held ${usedMb} MB of Buffers/ArrayBuffers, above its off-heap limit of ${limitMb} MB (the slot's managed memory), and was stopped`, {
      details: { executionId, limitMb, usedMb, kind: 'off-heap' },
    });
  }
}

/** The worker thread threw outside the task's own error handling. */
export class WorkerCrashedError extends RuntimeError {
  override name = 'WorkerCrashedError';
  constructor(executionId: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(TaskErrorCode.WorkerCrashed, `worker of task ${executionId} crashed: ${reason}`, { details: { executionId }, cause });
  }
}

/** The worker thread ended without reporting a terminal state. */
export class WorkerExitedError extends RuntimeError {
  override name = 'WorkerExitedError';
  constructor(executionId: string, exitCode: number) {
    super(TaskErrorCode.WorkerExited, `worker of task ${executionId} exited with code ${exitCode} before the task ended`, { details: { executionId, exitCode } });
  }
}

export class DuplicateDeploymentError extends RuntimeError {
  override name = 'DuplicateDeploymentError';
  constructor(executionId: string) {
    super(TaskErrorCode.DuplicateDeployment, `task ${executionId} is already deployed here`, { details: { executionId } });
  }
}

/** The job module rebuilt in the worker has no vertex with the descriptor's id (it is not deterministic). */
export class UnknownVertexError extends RuntimeError {
  override name = 'UnknownVertexError';
  constructor(vertexId: string) {
    super(TaskErrorCode.UnknownVertex, `the job graph rebuilt in the task has no vertex '${vertexId}' (is the job module deterministic?)`, { details: { vertexId } });
  }
}

/** The descriptor does not match the job graph the task rebuilt. */
export class InvalidDeploymentError extends RuntimeError {
  override name = 'InvalidDeploymentError';
  constructor(executionId: string, problem: string) {
    super(TaskErrorCode.InvalidDeployment, `deployment of ${executionId}: ${problem}`, { details: { executionId, problem } });
  }
}

/** The TaskRunner stopped while the task ran. */
export class RunnerStoppedError extends RuntimeError {
  override name = 'RunnerStoppedError';
  constructor(executionId: string) {
    super(TaskErrorCode.RunnerStopped, `task ${executionId} stopped with its TaskRunner`, { details: { executionId } });
  }
}

/** The subtask could not take its part of a checkpoint (snapshot or write failed); the task runs on. */
export class CheckpointDeclinedError extends RuntimeError {
  override name = 'CheckpointDeclinedError';
  constructor(executionId: string, checkpointId: number, problem: string, cause?: unknown) {
    super(TaskErrorCode.CheckpointDeclined, `task ${executionId} declined checkpoint ${checkpointId}: ${problem}`, { details: { executionId, checkpointId }, cause });
  }
}

/** A barrier of a newer checkpoint arrived before the barriers of this one were aligned. */
export class CheckpointSubsumedError extends RuntimeError {
  override name = 'CheckpointSubsumedError';
  constructor(executionId: string, checkpointId: number, newerId: number) {
    super(TaskErrorCode.CheckpointSubsumed, `task ${executionId} declined checkpoint ${checkpointId}: the barrier of checkpoint ${newerId} arrived before alignment completed`, {
      details: { executionId, checkpointId, newerId },
    });
  }
}

/** The state to restore could not be read or does not fit this subtask. */
export class RestoreFailedError extends RuntimeError {
  override name = 'RestoreFailedError';
  constructor(executionId: string, checkpointId: number, problem: string, cause?: unknown) {
    super(TaskErrorCode.RestoreFailed, `task ${executionId} cannot restore checkpoint ${checkpointId}: ${problem}`, { details: { executionId, checkpointId }, cause });
  }
}

/** A pre-committed part file of the transactional file sink is neither pending nor committed: output was lost. */
export class SinkCommitFailedError extends RuntimeError {
  override name = 'SinkCommitFailedError';
  constructor(file: string, problem: string, cause?: unknown) {
    super(TaskErrorCode.SinkCommitFailed, `cannot commit ${file}: ${problem}`, { details: { file }, cause });
  }
}
