/**
 * The HA services of a process in HA mode (etcd endpoints configured): what the Master
 * campaigns with and what every process finds the leader through.
 */
import { EtcdHaServices } from '../../lib/ha/etcd-ha-services.js';
import { EtcdCheckpointIdCounter, EtcdCompletedCheckpointStore } from '../../lib/ha/etcd-checkpoints.js';
import { EtcdSavepointStore } from '../../lib/ha/etcd-savepoints.js';
import { EtcdSinkClaimStore } from '../../lib/ha/etcd-sink-claims.js';
import type { EtcdLeaderElection } from '../../lib/ha/etcd-election.js';
import type { ClusterConfig } from '../../lib/config.js';
import { describeEtcdCredentials, etcdCredentialsOf } from '../../lib/ha/etcd-auth.js';
import type { Logger } from '../../lib/logging.js';
import type { MasterHa } from '../../actors/master/ha.js';

export function haServices(config: ClusterConfig, log: Logger): EtcdHaServices | null {
  if (config.etcdEndpoints.length === 0) return null;
  const credentials = etcdCredentialsOf(config);
  // The kind of credentials only: the password never reaches a log.
  log.info({ etcdEndpoints: config.etcdEndpoints, ...describeEtcdCredentials(credentials) }, 'HA mode: leader election and metadata in etcd');
  return new EtcdHaServices({ endpoints: config.etcdEndpoints, ...credentials, clusterId: config.clusterId, leaseTtlSeconds: config.leaseTtlSeconds, log });
}

/** Stores fenced by whatever term the election holds at the moment they are asked for. */
export function masterHa(ha: EtcdHaServices, election: EtcdLeaderElection): MasterHa {
  return {
    storesForCurrentTerm() {
      const guard = election.guard();
      if (!guard) return null;
      return {
        jobGraphs: ha.jobGraphStore(guard),
        jobResults: ha.jobResultStore(guard),
        checkpoints: (retain) => new EtcdCompletedCheckpointStore({ root: ha.root, guard, retain }),
        checkpointIds: new EtcdCheckpointIdCounter({ root: ha.root, guard }),
        savepoints: new EtcdSavepointStore({ root: ha.root, guard }),
        sinkClaims: new EtcdSinkClaimStore({ root: ha.root, guard }),
      };
    },
  };
}
