/** Where persisted actor snapshots live, and what fences a write. */
import type { Namespace } from 'etcd3';
import type { EtcdLeaderGuard } from '../ha/fenced-txn.js';

/**
 * Proof that the writer still holds a leadership term: the term's guard and the namespace
 * its leader key lives in (a singleton's own namespace). The etcd store puts a snapshot in
 * one transaction with the comparison "my leader key still exists with my revision", so a
 * fenced-off writer cannot overwrite the state of a newer term.
 */
export interface SnapshotFence {
  readonly root: Namespace;
  readonly guard: EtcdLeaderGuard;
}

/** A key-value store of persisted xstate snapshots (plain, serializable values). */
export interface SnapshotStore {
  /** The last snapshot saved under `key`, or undefined. */
  load(key: string): Promise<unknown | undefined>;
  /** Replace the snapshot under `key`; with a fence, only while the fence's term lasts. */
  save(key: string, snapshot: unknown, fence?: SnapshotFence): Promise<void>;
  remove(key: string, fence?: SnapshotFence): Promise<void>;
}
