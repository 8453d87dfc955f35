/**
 * Data-plane messages for a subtask that is not deployed on this TaskExecutor yet: a consumer
 * may announce credits before its producer's worker exists, and buffers may reach a
 * TaskExecutor just before the deployment of their consumer. They are held, in order, until
 * the subtask registers.
 *
 * Bounded twice: a producer only sends against credits, so honest peers can never exceed what
 * was granted; and a hard cap per subtask drops (and reports) anything beyond, so that a
 * confused or stale peer cannot grow this without limit. Messages of an attempt older than the
 * newest deployed attempt of their job are dropped at once.
 */
import type { DataMessage } from '../network/messages.js';

interface Held {
  readonly jobId: string;
  readonly attempt: number;
  readonly messages: DataMessage[];
}

export class HeldMessages {
  private readonly byExecution = new Map<string, Held>();

  constructor(private readonly maxPerExecution = 4096) {}

  /** Holds a message; returns false when the cap is reached and it was dropped. */
  hold(executionId: string, jobId: string, attempt: number, msg: DataMessage): boolean {
    let held = this.byExecution.get(executionId);
    if (held === undefined) {
      held = { jobId, attempt, messages: [] };
      this.byExecution.set(executionId, held);
    }
    if (held.messages.length >= this.maxPerExecution) return false;
    held.messages.push(msg);
    return true;
  }

  /** Removes and returns the messages held for a subtask, oldest first. */
  take(executionId: string): DataMessage[] {
    const held = this.byExecution.get(executionId);
    this.byExecution.delete(executionId);
    return held?.messages ?? [];
  }

  /** Drops everything of a job (all attempts), or of its attempts older than `beforeAttempt`. */
  dropJob(jobId: string, beforeAttempt = Number.POSITIVE_INFINITY): void {
    for (const [id, held] of this.byExecution) if (held.jobId === jobId && held.attempt < beforeAttempt) this.byExecution.delete(id);
  }

  get size(): number {
    let n = 0;
    for (const held of this.byExecution.values()) n += held.messages.length;
    return n;
  }
}
