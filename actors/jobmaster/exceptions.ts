/**
 * The job's exception history, as Flink's web UI shows it: each failure that ended an attempt,
 * with its root cause, the subtask and TaskExecutor it came from, and whether the job restarted.
 * Kept by the JobMaster (bounded: the newest `MAX_EXCEPTIONS`), reported in its status; a new
 * leader's JobMaster starts an empty one (the history is not stored in etcd).
 */
import type { WireError } from '../../lib/errors.js';
import type { ExecutionGraph } from './execution-graph.js';

export const MAX_EXCEPTIONS = 100;
/** A stack is shown, not parsed: its first characters are enough. */
const MAX_STACK_CHARS = 2000;

export interface JobException {
  at: number;
  attempt: number;
  /** The subtask whose failure is the root cause; null for a failure of the job as a whole (slots, restore). */
  task: { vertexId: string; vertexName: string; index: number; executionId: string } | null;
  taskExecutorId: string | null;
  rootCause: { code: string; message: string; stack: string | null };
  /** Other subtasks of the attempt that had failed too when it was decided. */
  concurrentFailures: number;
  /** Whether the job restarted after it (false: the job failed). */
  restarting: boolean;
}

/** Note the failure that ends `graph`'s attempt; at most one entry per attempt. */
export function recordFailure<TeRef>(
  history: JobException[],
  graph: ExecutionGraph<TeRef>,
  failure: WireError | null,
  at: number,
  restarting: boolean,
): void {
  if (history.at(-1)?.attempt === graph.attempt) return;
  const failed = graph.subtasks.filter((s) => s.state === 'failed');
  // The root cause's subtask: the one that carries it (a lost TaskExecutor's error is shared by its subtasks).
  const cause = failed.find((s) => s.error !== undefined && s.error === failure) ?? (failure === null ? failed[0] : undefined);
  const error = failure ?? cause?.error ?? { code: 'JOB_FAILED', message: 'the job failed' };
  const stack = error.details?.['stack'];
  const lostOn = error.details?.['taskExecutorId'];
  history.push({
    at,
    attempt: graph.attempt,
    task: cause
      ? {
          vertexId: cause.vertexId,
          vertexName: graph.jobGraph.vertices.find((v) => v.id === cause.vertexId)?.name ?? cause.vertexId,
          index: cause.index,
          executionId: cause.executionId,
        }
      : null,
    taskExecutorId: cause?.slot?.taskExecutorId ?? (typeof lostOn === 'string' ? lostOn : null),
    rootCause: { code: error.code, message: error.message, stack: typeof stack === 'string' ? stack.slice(0, MAX_STACK_CHARS) : null },
    concurrentFailures: Math.max(0, failed.length - (cause ? 1 : 0)),
    restarting,
  });
  if (history.length > MAX_EXCEPTIONS) history.splice(0, history.length - MAX_EXCEPTIONS);
}
