/** Tuning of the task runtime and data plane, with Flink's defaults where Flink has one. */

export interface TaskSettings {
  /** Bytes per network buffer (Flink: 32 KB). */
  readonly bufferBytes: number;
  /** A partly filled buffer leaves after at most this long (Flink's buffer timeout, 100 ms there; lower here for latency). */
  readonly bufferTimeoutMs: number;
  /** Credits each input channel owns (Flink: 2; 4 here, see the defaults). */
  readonly exclusiveCredits: number;
  /** Credits an input gate lends to channels with a backlog (Flink: 8; 16 here). */
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
  // Twice Flink's buffers per channel: a credit's round trip crosses two threads of each
  // TaskExecutor (worker and main) besides the network, and on a loaded machine each hop waits
  // for a core; with 2 + 8 the sources of the dataflow bench's shuffle waited for credit most of
  // the time while their consumers idled. Still bounded: credits + maxBacklog + 1 per channel.
  exclusiveCredits: 4,
  floatingCredits: 16,
  maxBacklog: 2,
  sourceBatchRecords: 256,
  sliceMs: 5,
  metricsIntervalMs: 1000,
  collectBatchRecords: 1000,
};

/** At least this much heap for a task's worker, whatever its slot says (V8 needs room to start). */
export const MIN_TASK_HEAP_MB = 32;
