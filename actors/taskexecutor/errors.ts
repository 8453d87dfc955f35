/**
 * Errors of a TaskExecutor. A task whose code cannot be had fails with one of these codes (its
 * JobMaster sees it as the task's failure); the TaskExecutor goes on.
 */
export const TaskExecutorErrorCode = {
  /** A task names job code by something that is not a SHA-256 hex digest: nothing is fetched. */
  InvalidCodeHash: 'INVALID_CODE_HASH',
  /** The Master's job code does not hash to what the task names: it is not written or run. */
  CodeHashMismatch: 'CODE_HASH_MISMATCH',
} as const;
export type TaskExecutorErrorCode = (typeof TaskExecutorErrorCode)[keyof typeof TaskExecutorErrorCode];
