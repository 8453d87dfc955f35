/**
 * The audit of fenced actions: every Master logs what it does as leader with its leader session
 * id (granted leadership, job deployed, checkpoint completed, job ended). Two leaders acted in
 * the same period if, in time order, an action of an older session follows one of a newer
 * session. Lines come from the Masters' structured logs.
 */
export interface LeaderAction {
  at: number;
  master: string;
  sessionId: string;
  what: string;
}

const ACTIONS = new Set(['granted leadership', 'job deployed', 'checkpoint completed', 'job ended', 'job recovered', 'job submitted']);

export function actionsFromLog(master: string, lines: readonly string[]): LeaderAction[] {
  const out: LeaderAction[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    let entry: { time?: number; msg?: string; leaderSessionId?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (entry.msg && ACTIONS.has(entry.msg) && entry.leaderSessionId && entry.time) {
      out.push({ at: entry.time, master, sessionId: entry.leaderSessionId, what: entry.msg });
    }
  }
  return out;
}

/** Overlaps: an action of an older term after an action of a newer one. */
export function overlaps(actions: readonly LeaderAction[]): string[] {
  const sorted = [...actions].sort((a, b) => a.at - b.at);
  const problems: string[] = [];
  let newest: LeaderAction | null = null;
  for (const action of sorted) {
    if (newest && BigInt(action.sessionId) < BigInt(newest.sessionId)) {
      problems.push(
        `${action.master} acted as leader of session ${action.sessionId} (${action.what}) at ${action.at}, after ${newest.master} acted for newer session ${newest.sessionId} at ${newest.at}`,
      );
    }
    if (!newest || BigInt(action.sessionId) > BigInt(newest.sessionId)) newest = action;
  }
  return problems;
}

/** What a TaskExecutor logs when it takes a leader session on: registering with it, or its JobMaster adopting tasks. */
const SESSION_ACCEPTED = new Set(['registered', 'tasks adopted by the new leader']);

/**
 * The task-level audit: a TaskExecutor (and its tasks) must never take an older leader session
 * on after a newer one (actors/fencing.ts). Returns the violations, and how many commands of a
 * stale session it refused (STALE_LEADER: a zombie's commands that reached it).
 */
export function taskFenceAudit(taskExecutor: string, lines: readonly string[]): { problems: string[]; refused: number } {
  const problems: string[] = [];
  let newest: { sessionId: string; at: number } | null = null;
  let refused = 0;
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    let entry: { time?: number; msg?: string; leaderSessionId?: string; code?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (entry.code === 'STALE_LEADER') refused++;
    if (!entry.msg || !SESSION_ACCEPTED.has(entry.msg) || !entry.leaderSessionId || !entry.time) continue;
    if (newest && BigInt(entry.leaderSessionId) < BigInt(newest.sessionId)) {
      problems.push(`${taskExecutor} took leader session ${entry.leaderSessionId} on (${entry.msg}) at ${entry.time}, after newer session ${newest.sessionId} at ${newest.at}`);
    }
    if (!newest || BigInt(entry.leaderSessionId) > BigInt(newest.sessionId)) newest = { sessionId: entry.leaderSessionId, at: entry.time };
  }
  return { problems, refused };
}
