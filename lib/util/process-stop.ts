/**
 * SIGSTOP that has taken effect. kill(2) returns once the signal is queued; the kernel stops a
 * process's threads one by one, each the next time it runs. On a loaded machine a "paused"
 * process goes on answering requests for milliseconds after the kill: long enough for a test
 * that pauses etcd, then sends it a keepalive, to get an answer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { realClock, sleep } from './clock.js';

/** The scheduler states (`/proc/<pid>/task/<tid>/stat`) of the threads of `pid`; empty once it is gone. */
function threadStates(pid: number): string[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tids.flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // The command name, in parentheses, may hold spaces: the state follows its last ')'.
      return [stat.charAt(stat.lastIndexOf(')') + 2)];
    } catch {
      return [];
    }
  });
}

/** Whether every thread of `pid` is stopped (or it is gone: nothing of it runs). */
export function isStopped(pid: number): boolean {
  return threadStates(pid).every((s) => s === 'T' || s === 't' || s === 'Z' || s === 'X');
}

/**
 * Send SIGSTOP to `pid` and resolve once every one of its threads is stopped. Rejects after
 * `timeoutMs` (a process in uninterruptible sleep, state D, stops only when its I/O returns).
 */
export async function stopProcess(pid: number, timeoutMs = 5000): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  const deadline = realClock.now() + timeoutMs;
  while (!isStopped(pid)) {
    if (realClock.now() > deadline) throw new Error(`process ${pid} was sent SIGSTOP but did not stop within ${timeoutMs} ms (thread states ${threadStates(pid).join('')})`);
    await sleep(realClock, 1);
  }
}
