/**
 * One cluster's HA services over one etcd client: what a Master, TaskExecutor or client
 * process creates once. Closing it closes the elections and retrievals it made, then the client.
 */
import type { Etcd3, Namespace } from 'etcd3';
import type { Logger } from '../logging.js';
import { createEtcdClient, haRoot, type EtcdClientOptions } from './etcd-client.js';
import { EtcdLeaderElection } from './etcd-election.js';
import { EtcdLeaderRetrieval } from './etcd-retrieval.js';
import { EtcdJobGraphStore, EtcdJobResultStore } from './etcd-stores.js';
import { EtcdCheckpointIdCounter, EtcdCompletedCheckpointStore } from './etcd-checkpoints.js';
import type { EtcdLeaderGuard } from './fenced-txn.js';
import type { Clock } from './util.js';

export interface EtcdHaServicesOptions extends EtcdClientOptions {
  clusterId: string;
  /** Election lease TTL in seconds (default 3). */
  leaseTtlSeconds?: number;
  /** Completed checkpoints kept per job (default 1). */
  retainCheckpoints?: number;
  /** Timers of the elections and retrievals (monotonic real time by default). */
  clock?: Clock;
  log?: Logger;
}

/**
 * @example
 * ```ts
 * const ha = new EtcdHaServices({ endpoints: etcd.endpoints, clusterId: 'c1' });
 * const election = ha.leaderElection();
 * election.campaign({
 *   grantLeadership: () => { const graphs = ha.jobGraphStore(election.guard()); ... },
 *   revokeLeadership: () => { ... },
 * }, myAddress);
 * await ha.close();
 * ```
 */
export class EtcdHaServices {
  readonly client: Etcd3;
  readonly root: Namespace;
  private readonly closables: Array<{ close(): Promise<void> }> = [];

  constructor(private readonly options: EtcdHaServicesOptions) {
    this.client = createEtcdClient(options);
    this.root = this.client.namespace(haRoot(options.clusterId));
  }

  leaderElection(): EtcdLeaderElection {
    const election = new EtcdLeaderElection({ root: this.root, leaseTtlSeconds: this.options.leaseTtlSeconds, clock: this.options.clock, log: this.options.log });
    this.closables.push(election);
    return election;
  }

  leaderRetrieval(): EtcdLeaderRetrieval {
    const retrieval = new EtcdLeaderRetrieval({ root: this.root, clock: this.options.clock, log: this.options.log });
    this.closables.push(retrieval);
    return retrieval;
  }

  jobGraphStore(guard: EtcdLeaderGuard | null): EtcdJobGraphStore {
    return new EtcdJobGraphStore({ root: this.root, guard });
  }

  jobResultStore(guard: EtcdLeaderGuard | null): EtcdJobResultStore {
    return new EtcdJobResultStore({ root: this.root, guard });
  }

  checkpointStore(guard: EtcdLeaderGuard | null): EtcdCompletedCheckpointStore {
    return new EtcdCompletedCheckpointStore({ root: this.root, guard, retain: this.options.retainCheckpoints ?? 1 });
  }

  checkpointIdCounter(guard: EtcdLeaderGuard | null): EtcdCheckpointIdCounter {
    return new EtcdCheckpointIdCounter({ root: this.root, guard });
  }

  async close(): Promise<void> {
    await Promise.all(this.closables.map((c) => c.close()));
    this.client.close();
  }
}
