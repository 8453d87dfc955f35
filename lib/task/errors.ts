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
