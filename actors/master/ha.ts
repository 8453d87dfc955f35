/**
 * What the Master needs of the HA services while it leads: stores whose writes are fenced by
 * the current leadership term. In standalone mode there are none: jobs are not recovered
 * after a Master failure and cannot checkpoint.
 */
import type { CheckpointIdCounter, CompletedCheckpointStore, JobGraphStore, JobResultStore, LeaderGuard } from '../../lib/ha/types.js';
import type { SavepointStore } from '../../lib/ha/etcd-savepoints.js';
import type { SinkClaimStore } from '../../lib/ha/etcd-sink-claims.js';
import type { JobConfig } from '../../lib/dataflow/job-config.js';
import type { JobGraph } from '../../lib/dataflow/jobgraph.js';
import type { TakeoverServices } from './takeover.js';

export interface LeaderStores {
  /**
   * The term the stores are fenced by. Its `check()` is also for outcomes: a process paused
   * past its lease wakes up to answers of writes that landed in its term, and must not act on
   * them once a newer leader may have (the check ends the term at once when the lease lapsed).
   */
  guard: LeaderGuard;
  jobGraphs: JobGraphStore;
  jobResults: JobResultStore;
  checkpoints(retained: number): CompletedCheckpointStore;
  checkpointIds: CheckpointIdCounter;
  /** Savepoints with their state, and stop intents (etcd-savepoints.ts). */
  savepoints: SavepointStore;
  /** Which job owns each transactional sink directory. */
  sinkClaims: SinkClaimStore;
}

export interface MasterHa {
  /** Stores fenced by the term that leads now, or null if this Master does not lead (any more). */
  storesForCurrentTerm(): LeaderStores | null;
  /** What a standby needs to take over from a leader proven dead (takeover.ts); absent: the lease decides. */
  takeover?: TakeoverServices;
}

/** A submitted job as the job graph store keeps it: enough for a new leader to run it again. */
export interface StoredJob {
  jobId: string;
  name: string;
  codeHash: string;
  /** The module itself: no shared filesystem is assumed, and modules are small. */
  code: Uint8Array;
  args: Record<string, unknown>;
  parallelism: number;
  submittedAt: number;
  jobGraph: JobGraph;
  jobConfig: JobConfig;
  /** The savepoint the job was started from, if any. */
  fromSavepoint: string | null;
}
