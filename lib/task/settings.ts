/** Tuning of the task runtime and data plane, with Flink's defaults where Flink has one. */

export interface TaskSettings {
  /** Bytes per network buffer (Flink: 32 KB). */
  readonly bufferBytes: number;
  /** A partly filled buffer leaves after at most this long (Flink's buffer timeout, 100 ms there; lower here for latency). */
  readonly bufferTimeoutMs: number;
  /** Credits each input channel owns (Flink: 2). */
  readonly exclusiveCredits: number;
  /** Credits an input gate lends to channels with a backlog (Flink: 8). */
  readonly floatingCredits: number;
  /** Full buffers a channel may queue without credit before the task stops taking input. */
  readonly maxBacklog: number;
  /** Records a source reads between checks for credit. */
  readonly sourceBatchRecords: number;
  /** Longest stretch of work before the task yields to its event loop (to read credits and buffers). */
  readonly sliceMs: number;
  /** How often a running task reports its metrics. */
  readonly metricsIntervalMs: number;
  /** Records per `task.collect` event. */
  readonly collectBatchRecords: number;
}

export const DEFAULT_TASK_SETTINGS: TaskSettings = {
  bufferBytes: 32 * 1024,
  bufferTimeoutMs: 5,
  exclusiveCredits: 2,
  floatingCredits: 8,
  maxBacklog: 1,
  sourceBatchRecords: 256,
  sliceMs: 5,
  metricsIntervalMs: 1000,
  collectBatchRecords: 1000,
};

/** At least this much heap for a task's worker, whatever its slot says (V8 needs room to start). */
export const MIN_TASK_HEAP_MB = 32;
