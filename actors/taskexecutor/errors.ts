/**
 * Errors of a TaskExecutor, as its JobMasters and ResourceManager see them. A task whose code
 * cannot be had fails with one of these codes (its JobMaster sees it as the task's failure); the
 * TaskExecutor goes on.
 */
export const TaskExecutorErrorCode = {
  /** A task names job code by something that is not a SHA-256 hex digest: nothing is fetched. */
  InvalidCodeHash: 'INVALID_CODE_HASH',
  /** The Master's job code does not hash to what the task names: it is not written or run. */
  CodeHashMismatch: 'CODE_HASH_MISMATCH',
  /** A JobMaster adopted a task that is no longer running here (it ended after it was reported). */
  TaskNotFound: 'TASK_NOT_FOUND',
  /** A task was submitted to a slot that has been freed since (its JobMaster hears it failed, and restarts). */
  SlotNotAllocated: 'SLOT_NOT_ALLOCATED',
} as const;
export type TaskExecutorErrorCode = (typeof TaskExecutorErrorCode)[keyof typeof TaskExecutorErrorCode];
