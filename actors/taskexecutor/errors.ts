/** Error codes of the TaskExecutor, as its JobMasters and ResourceManager see them. */
export const TaskExecutorErrorCode = {
  /** A JobMaster adopted a task that is no longer running here (it ended after it was reported). */
  TaskNotFound: 'TASK_NOT_FOUND',
  /** A task was submitted to a slot that has been freed since (its JobMaster hears it failed, and restarts). */
  SlotNotAllocated: 'SLOT_NOT_ALLOCATED',
} as const;
export type TaskExecutorErrorCode = (typeof TaskExecutorErrorCode)[keyof typeof TaskExecutorErrorCode];
