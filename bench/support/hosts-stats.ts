/**
 * The pure parts of the hosts benchmark (bench/hosts.ts): reading what its client
 * (hosts-client.ts) and the Masters printed, and summarizing samples.
 */
import { percentile } from './report.js';

export interface Summary {
  p50: number;
  min: number;
  max: number;
  count: number;
}

/** Median (the upper one of an even count, as `percentile` of report.ts), extremes and count. */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError('no samples to summarize');
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), min: sorted[0]!, max: sorted.at(-1)!, count: sorted.length };
}

/** One status line of hosts-client.ts. */
export interface StatusLine {
  time: number;
  state?: string;
  attempt?: number;
  running?: boolean;
  lastCheckpoint?: number;
  taskExecutors?: string[];
}

/**
 * The first status after `since` in which a later attempt than `attemptAbove` runs every
 * subtask, none of them on `without` (the TaskExecutor that died).
 */
export function runningAgain(statuses: readonly StatusLine[], since: number, attemptAbove: number, without: string): StatusLine | undefined {
  return statuses.find(
    (s) => s.time > since && s.running === true && (s.attempt ?? -1) > attemptAbove && !(s.taskExecutors ?? []).includes(without),
  );
}

/** Each Master's answer to GET /api/leader (nulls: unreachable). */
export interface MasterAnswer {
  rest: string;
  isLeader: boolean | null;
  leader: string | null;
}

/**
 * The REST address of the one leader that all `expected` Masters agree on (it says it leads,
 * every other names its node as the leader), or undefined while they do not.
 * `nodeOf` maps a Master's REST address to its node address.
 */
export function agreedLeader(answers: readonly MasterAnswer[], expected: number, nodeOf: (rest: string) => string | undefined): string | undefined {
  if (answers.length !== expected || answers.some((a) => a.isLeader === null)) return undefined;
  const leaders = answers.filter((a) => a.isLeader === true);
  if (leaders.length !== 1) return undefined;
  const node = nodeOf(leaders[0]!.rest);
  if (node === undefined) return undefined;
  return answers.every((a) => a.isLeader === true || a.leader === node) ? leaders[0]!.rest : undefined;
}

/** When a Master's log says it was granted or lost leadership (pino's `time`). */
export interface LeadershipLog {
  granted: number[];
  revoked: number[];
}

/** Feeds one line a Master printed into its log of leadership changes; other lines are ignored. */
export function recordLeadership(log: LeadershipLog, line: string): void {
  if (!line.startsWith('{')) return;
  let entry: { msg?: unknown; time?: unknown };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    return;
  }
  if (typeof entry.time !== 'number') return;
  if (entry.msg === 'leadership granted') log.granted.push(entry.time);
  else if (entry.msg === 'leadership revoked') log.revoked.push(entry.time);
}

/** Whether the Master of `log` leads now: its last grant is later than its last revocation. */
export function leadsNow(log: LeadershipLog): boolean {
  const granted = log.granted.at(-1);
  return granted !== undefined && granted > (log.revoked.at(-1) ?? 0);
}

/** The completed checkpoint that holds the most bytes (the big-state job's final one). */
export function largestCompleted<C extends { status: string; bytes: number; durationMs: number | null }>(checkpoints: readonly C[]): C | undefined {
  return checkpoints.filter((c) => c.status === 'completed' && c.durationMs !== null).sort((a, b) => b.bytes - a.bytes)[0];
}
