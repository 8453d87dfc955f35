/**
 * Fencing tokens. Every message a leader's component sends carries the leader session id of
 * its term; receivers compare it with the session they know and drop older ones. Session ids
 * are decimal strings of an etcd revision (or '1' in standalone mode), compared numerically.
 */
import { RuntimeError } from '../lib/errors.js';

export const FencingCode = { StaleLeader: 'STALE_LEADER' } as const;

export class StaleLeaderError extends RuntimeError {
  override name = 'StaleLeaderError';
  constructor(received: string, current: string) {
    super(FencingCode.StaleLeader, `message from leader session ${received}, but the current session is ${current}`, {
      details: { received, current },
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
