/**
 * Ownership of transactional sink directories: a directory belongs to one job at a time, so
 * that no two jobs commit part files into it. A claim is taken at submission (before the job
 * graph is stored), released once the job's result is stored, and taken over explicitly by a
 * job restored from a savepoint of the owner once the owner is stopped.
 *
 * Keys (under the cluster's root): `sink-claims/<normalized directory, URI-encoded>`. Claims
 * are compare-and-swap writes on the keys' revisions inside the leader's fenced transaction:
 * two submissions that race for one directory cannot both win.
 */
import path from 'node:path';
import { decodeValue, encodeValue } from './codec.js';
import { etcdCall } from './etcd-client.js';
import { pageSizeFor, readAllPaged } from './etcd-pages.js';
import type { EtcdStoreOptions } from './etcd-stores.js';
import { fencedTxn } from './fenced-txn.js';
import { SinkDirOwnedError } from './errors.js';
import { realClock } from '../util/clock.js';

export interface SinkClaim {
  dir: string;
  jobId: string;
  claimedAt: number;
}

export interface SinkClaimStore {
  /**
   * Claim every directory in `dirs` for `jobId`, all or nothing. A claim of another job is
   * taken over only when `mayTakeOver(owner)` says so; otherwise SinkDirOwnedError names it.
   */
  claim(dirs: readonly string[], jobId: string, mayTakeOver: (owner: string) => Promise<boolean>): Promise<void>;
  /** Drop every claim `jobId` holds (its result is stored, or it never got stored). */
  release(jobId: string): Promise<void>;
  list(): Promise<SinkClaim[]>;
}

/** The directory as claims compare it: absolute, normalized, no trailing separator. */
export function normalizeSinkDir(dir: string): string {
  const resolved = path.resolve(dir);
  return resolved.length > 1 && resolved.endsWith(path.sep) ? resolved.slice(0, -1) : resolved;
}

export const SinkClaimKeys = {
  prefix: 'sink-claims/',
  claim: (dir: string) => `sink-claims/${encodeURIComponent(normalizeSinkDir(dir))}`,
} as const;

const ATTEMPTS = 5;

/**
 * @example
 * ```ts
 * const claims = new EtcdSinkClaimStore({ root, guard: election.guard() });
 * await claims.claim(['/data/out'], jobId, async () => false); // SinkDirOwnedError if owned
 * await claims.release(jobId);
 * ```
 */
export class EtcdSinkClaimStore implements SinkClaimStore {
  constructor(private readonly options: EtcdStoreOptions) {}

  async claim(dirs: readonly string[], jobId: string, mayTakeOver: (owner: string) => Promise<boolean>): Promise<void> {
    const { root, guard } = this.options;
    const unique = [...new Set(dirs.map(normalizeSinkDir))];
    if (unique.length === 0) return;
    for (let attempt = 1; ; attempt++) {
      const seen: Array<{ key: string; dir: string; modRevision: string | null }> = [];
      for (const dir of unique) {
        const key = SinkClaimKeys.claim(dir);
        const kv = (await etcdCall('sink claim get', () => root.get(key).exec())).kvs[0];
        if (kv) {
          const owner = decodeValue<SinkClaim>(kv.value).jobId;
          if (owner !== jobId && !(await mayTakeOver(owner))) throw new SinkDirOwnedError(dir, owner);
        }
        seen.push({ key, dir, modRevision: kv ? kv.mod_revision : null });
      }
      const now = realClock.now(); // a wall-time stamp, for operators
      const ops = seen.map(({ key, dir }) => root.put(key).value(encodeValue(key, { dir, jobId, claimedAt: now } satisfies SinkClaim)));
      const result = await fencedTxn(root, guard, 'sink claim', ops, (txn) => {
        for (const { key, modRevision } of seen) {
          if (modRevision === null) txn.and(key, 'Version', '==', 0);
          else txn.and(key, 'Mod', '==', modRevision);
        }
      });
      if (result.succeeded) return;
      // Another claim changed one of the keys between our read and our write: decide again.
      if (attempt >= ATTEMPTS) throw new SinkDirOwnedError(unique.join(', '), 'another submission (claims kept changing)');
    }
  }

  async release(jobId: string): Promise<void> {
    const { root, guard } = this.options;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const kvs = await etcdCall('sink claim list', () => root.getAll().prefix(SinkClaimKeys.prefix).exec().then((r) => r.kvs));
      const mine = kvs.filter((kv) => decodeValue<SinkClaim>(kv.value).jobId === jobId);
      if (mine.length === 0) return;
      // Only while still ours: a job restored from our savepoint may have taken a claim over.
      const result = await fencedTxn(root, guard, 'sink claim release', mine.map((kv) => root.delete().key(kv.key.toString())), (txn) => {
        for (const kv of mine) txn.and(kv.key.toString(), 'Mod', '==', kv.mod_revision);
      });
      if (result.succeeded) return;
    }
  }

  async list(): Promise<SinkClaim[]> {
    return readAllPaged(this.options.root, SinkClaimKeys.prefix, { operation: 'sink claim list', pageSize: pageSizeFor() }, (kv) => decodeValue<SinkClaim>(kv.value));
  }
}
