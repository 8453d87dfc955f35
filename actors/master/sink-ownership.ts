/**
 * Which job owns a transactional sink directory (lib/ha/etcd-sink-claims.ts), as the leader
 * decides it: a claim is live while its owner runs, is being submitted, or has its graph
 * stored; it is taken over only from an owner that is gone, or, by a job restored from a
 * savepoint, from the stopped job that took that savepoint.
 */
import type { LeaderStores } from './ha.js';

export interface ClaimContext {
  /** The job being submitted. */
  jobId: string;
  /** Transactional sink directories of its graph. */
  sinkDirs: readonly string[];
  /** The job that took the savepoint it starts from, if any. */
  savepointOf: string | null;
  /** Jobs this leader runs or is submitting: their claims are live whatever etcd holds yet. */
  isLocallyLive: (jobId: string) => boolean;
}

/** Take the claims of a submission before its graph is stored; SinkDirOwnedError names the owner. */
export async function claimSinkDirs(stores: LeaderStores, claim: ClaimContext): Promise<void> {
  await stores.sinkClaims.claim(claim.sinkDirs, claim.jobId, async (owner) => {
    if (owner === claim.savepointOf && (await stores.savepoints.stopIntent(owner)) !== undefined) return true;
    if (claim.isLocallyLive(owner)) return false;
    // An owner without a stored graph has ended (its result is stored) or was never stored.
    return (await stores.jobGraphs.get(owner)) === undefined;
  });
}

/** A job's result is stored: its sink directories and its stop intent are free. */
export async function releaseEndedJob(stores: LeaderStores, jobId: string): Promise<void> {
  await stores.sinkClaims.release(jobId);
  await stores.savepoints.removeStopIntent(jobId);
}
