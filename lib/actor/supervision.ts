/**
 * What happens to an actor whose machine throws or errors. Restarting builds a fresh machine
 * from the same logic and input; the mailbox is kept. Too many restarts in a window stop it,
 * so that a deterministic failure does not spin forever.
 */
export interface SupervisionPolicy {
  strategy: 'restart' | 'stop';
  /** At most this many restarts within `withinMs`; one more stops the actor. */
  maxRestarts: number;
  withinMs: number;
}

export const defaultSupervision: SupervisionPolicy = { strategy: 'restart', maxRestarts: 10, withinMs: 60_000 };

/** Decides restart or stop for a failure at `now`, given the times of earlier restarts (pruned in place). */
export function decide(policy: SupervisionPolicy, restarts: number[], now: number): 'restart' | 'stop' {
  if (policy.strategy === 'stop') return 'stop';
  while (restarts.length > 0 && now - restarts[0]! > policy.withinMs) restarts.shift();
  if (restarts.length >= policy.maxRestarts) return 'stop';
  restarts.push(now);
  return 'restart';
}
