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
import { EtcdLeaderRetrieval } from '../../lib/ha/etcd-retrieval.js';
import { probeAddress } from '../../lib/ha/leader-death.js';
import type { ActorSystem } from '../../lib/actor/system.js';
import { LinkLoss, type TakeoverServices } from '../../actors/master/takeover.js';

export function haServices(config: ClusterConfig, log: Logger): EtcdHaServices | null {
  if (config.etcdEndpoints.length === 0) return null;
  const credentials = etcdCredentialsOf(config);
  // The kind of credentials only: the password never reaches a log.
  log.info({ etcdEndpoints: config.etcdEndpoints, ...describeEtcdCredentials(credentials) }, 'HA mode: leader election and metadata in etcd');
  return new EtcdHaServices({ endpoints: config.etcdEndpoints, ...credentials, clusterId: config.clusterId, leaseTtlSeconds: config.leaseTtlSeconds, log });
}

/** Stores fenced by whatever term the election holds at the moment they are asked for. */
export function masterHa(ha: EtcdHaServices, election: EtcdLeaderElection, system: ActorSystem): MasterHa {
  return {
    takeover: takeoverServices(ha, election, system),
    storesForCurrentTerm() {
      const guard = election.guard();
      if (!guard) return null;
      return {
        guard,
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

/** A standby's means of proving its leader dead and taking over (actors/master/takeover.ts). */
function takeoverServices(ha: EtcdHaServices, election: EtcdLeaderElection, system: ActorSystem): TakeoverServices {
  return {
    instance: system.instance,
    followLeader(listener) {
      // Its own follower, closed when the standby stops watching (it is cheap: one etcd watch).
      const retrieval = new EtcdLeaderRetrieval({ root: ha.root, log: system.log });
      retrieval.start(listener);
      return () => void retrieval.close();
    },
    link(node, listener) {
      let ended = false;
      const up = (peer: string): void => {
        const instance = peer === node ? system.peerInstance(node) : null;
        if (!ended && instance) listener({ kind: 'up', instance });
      };
      system.events.on('node.up', up);
      // A remote watch holds the connection open (heartbeats) and reports how it ended.
      const unwatch = system.watch(system.ref(node, 'master'), (notice) => {
        if (ended || notice.type !== 'actor.terminated') return;
        const loss = notice.reason === 'connection-lost' ? LinkLoss.Closed : notice.reason === 'heartbeat-timeout' ? LinkLoss.Silent : LinkLoss.Stopped;
        listener({ kind: 'lost', loss });
      });
      queueMicrotask(() => up(node)); // already connected: no node.up to come
      return () => {
        ended = true;
        system.events.off('node.up', up);
        unwatch();
      };
    },
    probe: (address, timeoutMs, signal) => probeAddress(address, timeoutMs, system.clock, signal),
    revokeDeadTerm: (leader) => election.revokeDeadTerm(leader),
  };
}
