/**
 * Writes made as leader. Every one is a single etcd transaction whose first comparison is
 * "the leader key of my term still exists with my create revision": once the lease expired
 * (the key is gone) or a newer term exists, etcd refuses the write, so a paused old leader
 * that wakes up cannot write, whatever it still believes.
 */
import type { Namespace, IOperation, ITxnResponse } from 'etcd3';
import { FencingError } from './errors.js';
import { etcdCall } from './etcd-client.js';
import type { LeaderGuard } from './types.js';

/** A LeaderGuard of an etcd election term: which key, at which create revision, proves it. */
export interface EtcdLeaderGuard extends LeaderGuard {
  /** The leader key, relative to the root namespace that the stores use too. */
  readonly leaderKey: string;
  /** Create revision of the leader key (decimal string, as etcd returns it). */
  readonly createRevision: string;
}

/**
 * Commit `ops` only while `guard`'s term lasts. Throws FencingError if the guard fails
 * locally or in etcd, HaUnavailableError if etcd does not answer (the outcome is then
 * unknown: the caller may retry with the same guard, the writes are idempotent).
 * `extra` may add comparisons (compare-and-swap); if only those fail, the response is
 * returned with `succeeded: false` (the else branch reads the leader key to tell which).
 */
export async function fencedTxn(
  root: Namespace,
  guard: EtcdLeaderGuard | null,
  operation: string,
  ops: IOperation[],
  extra?: (txn: ReturnType<Namespace['if']>) => void,
): Promise<ITxnResponse> {
  if (guard === null) throw new FencingError('none', 'not-leader');
  guard.check();
  const result = await etcdCall(operation, () => {
    const txn = root.if(guard.leaderKey, 'Create', '==', guard.createRevision);
    extra?.(txn);
    return txn.then(...ops).else(root.get(guard.leaderKey)).commit();
  });
  if (result.succeeded) return result;
  const leaderKv = result.responses[0]?.response_range?.kvs[0];
  if (extra && leaderKv?.create_revision === guard.createRevision) return result;
  throw new FencingError(guard.sessionId, 'rejected-by-etcd');
}
