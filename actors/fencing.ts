/**
 * Fencing tokens: the one guard of every leader-owned message (Flink's FencedRpcEndpoint).
 *
 * Every message a leader's component sends carries the leader session id of its term (an etcd
 * revision as a decimal string, or '1' in standalone mode; compared numerically). Two kinds of
 * receivers use it:
 *
 *   - components bound to one term (the Master's own events, its ResourceManager, its
 *     JobMasters) accept only their own session: `admitSession(own, ...)`;
 *   - TaskExecutors and their tasks outlive terms: each remembers the newest session it accepted
 *     a command from (a registration, a deployment, an adoption) and refuses every older one
 *     (`LeaderFence`). A paused leader that wakes after its lease (a zombie) can therefore not
 *     trigger, commit or cancel anything once a newer leader has spoken to the TaskExecutor.
 *
 * A refused message is logged as a warning (its type, both sessions) and, when it is an ask,
 * answered with STALE_LEADER (lib/ha/errors.ts) so that the sender learns it lost its term.
 */
import { replyError, type ActorRef } from '../lib/index.js';
import { RuntimeError } from '../lib/errors.js';
import { HaErrorCode } from '../lib/ha/errors.js';
import type { Logger } from '../lib/logging.js';

export class StaleLeaderError extends RuntimeError {
  override name = 'StaleLeaderError';
  constructor(received: string | undefined, current: string | null) {
    super(HaErrorCode.StaleLeader, `message from leader session ${received ?? '(none)'}, but the current session is ${current ?? '(none)'}`, {
      details: { received: received ?? null, current },
    });
  }
}

/** Compares two leader session ids: negative when a is older. */
export function compareSessions(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Whether a message stamped `received` may act on a receiver that knows `current`. */
export function isCurrentSession(received: string | undefined, current: string | null): boolean {
  return received !== undefined && current !== null && received === current;
}

/** Whether `received` is from a term at least as new as `current` (a new leader may take over). */
export function isSameOrNewerSession(received: string, current: string | null): boolean {
  return current === null || compareSessions(received, current) >= 0;
}

/** A leader-owned message: its session, and where an ask wants its answer. */
export interface Fenced {
  type: string;
  leaderSessionId?: string;
  replyTo?: ActorRef<never>;
}

/** Logs the refusal and fails an ask with STALE_LEADER. */
export function refuseStale(log: Logger, message: Fenced, current: string | null): void {
  log.warn({ type: message.type, received: message.leaderSessionId ?? null, current, code: HaErrorCode.StaleLeader }, 'rejected a message of a stale leader session');
  if (message.replyTo) replyError(message.replyTo, new StaleLeaderError(message.leaderSessionId, current));
}

/** For components bound to one term: only `own` session is admitted; anything else is refused. */
export function admitSession(own: string | null, message: Fenced, log: Logger): boolean {
  if (isCurrentSession(message.leaderSessionId, own)) return true;
  refuseStale(log, message, own);
  return false;
}

/**
 * The newest leader session a TaskExecutor (or one of its tasks) accepted. It only moves
 * forward: `accept` of an older session fails, and `admit` refuses commands of older sessions.
 *
 * @example
 * const fence = new LeaderFence();
 * fence.accept('7');                       // registered with the leader of term 7
 * fence.admit({ type: 'te.checkpoint.trigger', leaderSessionId: '5' }, log); // false, logged
 */
export class LeaderFence {
  private newest: string | null = null;

  /** The newest session accepted, or null before the first. */
  get session(): string | null {
    return this.newest;
  }

  /** Raise the fence to `session` (a registration or an adoption); false if it is older than the fence. */
  accept(session: string): boolean {
    if (!isSameOrNewerSession(session, this.newest)) return false;
    this.newest = session;
    return true;
  }

  /** Whether `session` is older than the fence. */
  isStale(session: string | undefined): boolean {
    return session === undefined || (this.newest !== null && compareSessions(session, this.newest) < 0);
  }

  /** A command of the newest session, or of a newer one, acts; an older one is refused (logged, asks fail). */
  admit(message: Fenced, log: Logger): boolean {
    if (!this.isStale(message.leaderSessionId)) return true;
    refuseStale(log, message, this.newest);
    return false;
  }
}
