/**
 * What a fault cost, measured after the drill from what the cluster left behind:
 *
 * - time without a leader: from the Masters' leadership logs. A Master leads from its
 *   `leadership granted` line to its `leadership revoked` line of the same session, or to the
 *   moment a fault took it out (killed, paused, its host cut off: it logs nothing then, though
 *   it may still think it leads). Within a window, the time no term covers.
 * - longest output gap: from the sink's committed output. The transactional sink commits by
 *   renaming a part file, which sets the file's ctime: the ctimes of the `part-*` files are the
 *   exact instants the job's output grew (not a sample, and unlike a records-out metric, records
 *   replayed after a restore are not counted twice). Within a window, the longest stretch
 *   without a commit (a stretch that began before the window counts from the window's start).
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export interface Window {
  from: number;
  to: number;
}

export interface LeaderTerm {
  node: string;
  sessionId: string;
  from: number;
  /** When it ended by the Master's own account; null if it never logged the end. */
  to: number | null;
}

/** A Master taken out by a fault at `at` (no log line marks it). */
export interface MasterOutage {
  node: string;
  at: number;
}

type LogEntry = { time?: number; msg?: string; sessionId?: string; leaderSessionId?: string };

function entries(lines: readonly string[]): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogEntry);
    } catch {
      // not a log line
    }
  }
  return out;
}

/**
 * The Master's leadership terms from its log: the election's `leadership granted` /
 * `leadership revoked` lines of sessions the Master acted on as leader (`granted leadership`
 * with that leaderSessionId), so that other elections in the process do not count.
 */
export function leaderTerms(node: string, lines: readonly string[]): LeaderTerm[] {
  const log = entries(lines);
  const masterSessions = new Set(log.filter((e) => e.msg === 'granted leadership' && e.leaderSessionId).map((e) => e.leaderSessionId!));
  const terms: LeaderTerm[] = [];
  for (const e of log) {
    if (!e.time || !e.sessionId || !masterSessions.has(e.sessionId)) continue;
    if (e.msg === 'leadership granted') terms.push({ node, sessionId: e.sessionId, from: e.time, to: null });
    else if (e.msg === 'leadership revoked') {
      const term = terms.find((t) => t.sessionId === e.sessionId && t.to === null);
      if (term) term.to = e.time;
    }
  }
  return terms;
}

/**
 * How long within `window` no Master led: terms end at their revocation or at the first outage
 * of their Master after they began, whichever is first.
 */
export function timeWithoutLeader(terms: readonly LeaderTerm[], outages: readonly MasterOutage[], window: Window): number {
  const covered: Array<[number, number]> = [];
  for (const term of terms) {
    const outage = outages.filter((o) => o.node === term.node && o.at >= term.from).reduce((min, o) => Math.min(min, o.at), Infinity);
    const end = Math.min(term.to ?? Infinity, outage, window.to);
    const start = Math.max(term.from, window.from);
    if (end > start) covered.push([start, end]);
  }
  covered.sort((a, b) => a[0] - b[0]);
  let led = 0;
  let reach = window.from;
  for (const [start, end] of covered) {
    if (end <= reach) continue;
    led += end - Math.max(start, reach);
    reach = end;
  }
  return Math.max(0, window.to - window.from - led);
}

/**
 * The longest stretch of `window` without a commit (each stretch between consecutive commits,
 * cut to the window: every instant without output counts in one fault's window only); null
 * without two commits around the window. `commits` in any order.
 */
export function longestOutputGap(commits: readonly number[], window: Window): number | null {
  const sorted = [...commits].sort((a, b) => a - b);
  let longest: number | null = null;
  for (let i = 1; i < sorted.length; i++) {
    const [before, after] = [sorted[i - 1]!, sorted[i]!];
    if (after > window.from && before < window.to) longest = Math.max(longest ?? 0, Math.min(after, window.to) - Math.max(before, window.from));
  }
  return longest;
}

/** When each committed part file of a file sink's directory was committed (its ctime, ms). */
export function commitTimes(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith('part-')).map((n) => statSync(path.join(dir, n)).ctimeMs);
}
