/** The waits every fault is made of: find a victim, until a new leader, until the job runs again. */
import { waitFor } from '../support/wait.js';
import type { DrillContext } from './faults.js';
import type { DrillProcess } from './target.js';

export const DEADLINE = { timeoutMs: 60_000, intervalMs: 20 };

/** A predicate on a process's output: a structured log line `msg` written after `at`. */
export function loggedAfter(msg: string, at: number): (line: string) => boolean {
  return (line) => {
    if (!line.startsWith('{') || !line.includes(msg)) return false;
    try {
      const entry = JSON.parse(line) as { msg?: string; time?: number };
      return entry.msg === msg && Number(entry.time) >= at;
    } catch {
      return false;
    }
  };
}

/** A running TaskExecutor that runs a subtask of the job. */
export async function busyTaskExecutor(ctx: DrillContext): Promise<DrillProcess> {
  const details = await ctx.client.status(ctx.jobId);
  const busy = new Set(details.subtasks.map((s) => s.taskExecutorId).filter(Boolean));
  const victim = ctx.target.taskExecutors().find((p) => p.running && busy.has(p.taskExecutorId!));
  if (!victim) throw new Error(`no running TaskExecutor of ${[...busy].join(', ')} to fault`);
  return victim;
}

/** Until a running Master other than `old` leads. */
export function newLeader(ctx: DrillContext, old: { node: string }): Promise<DrillProcess> {
  return waitFor('a new leader', async () => {
    const m = await ctx.target.leader();
    return m && m.node !== old.node ? m : undefined;
  }, DEADLINE);
}

/** Until every subtask runs again (in any attempt at or after `attempt`), or the job ended. */
export async function untilRunning(ctx: DrillContext, at: number, attempt: number): Promise<number | null> {
  const done = await waitFor('the job to run again', async () => {
    const d = await ctx.client.status(ctx.jobId);
    if (d.state === 'finished') return 'ended';
    return d.state === 'running' && d.attempt >= attempt && d.subtasks.every((s) => s.state === 'running' || s.state === 'finished')
      ? 'running'
      : undefined;
  }, DEADLINE);
  return done === 'running' ? Date.now() - at : null;
}

/** Until the job left `running` or restarted since `attempt`; resolves with that instant. */
export function jobNoticed(ctx: DrillContext, attempt: number): Promise<number> {
  return waitFor('the job to notice', async () => {
    const d = await ctx.client.status(ctx.jobId);
    return d.state !== 'running' || d.attempt > attempt ? Date.now() : undefined;
  }, DEADLINE);
}

/** Until the clock reaches `at` (a fault held for a planned time, e.g. past a lease). */
export function until(what: string, at: number): Promise<true> {
  return waitFor(what, () => Date.now() >= at, { timeoutMs: Math.max(0, at - Date.now()) + 5000, intervalMs: 50 });
}
