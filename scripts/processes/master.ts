/**
 * A Master process: an actor system with the Master actor. In standalone mode (no etcd) it
 * leads at once with leader session 1; in HA mode it campaigns through etcd and leads only
 * while elected: its election revokes leadership before its lease can expire.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ActorSystem } from '../../lib/index.js';
import { requireSecret, type ClusterConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logging.js';
import { masterMachine } from '../../actors/master/machine.js';
import { haServices, masterHa } from './ha.js';

export interface RunningMaster {
  system: ActorSystem;
  node: string;
  stop(): Promise<void>;
}

export async function startMaster(config: ClusterConfig): Promise<RunningMaster> {
  const logger = createLogger({ name: 'master', level: config.logLevel });
  const system = await ActorSystem.start({
    clusterId: config.clusterId,
    secret: requireSecret(config),
    host: config.host,
    port: config.masterPort,
    name: 'master',
    logger,
  });
  const workDir = path.resolve(config.workDir, `master-${system.node.replace(/[^\w.-]/g, '_')}`);
  mkdirSync(workDir, { recursive: true });
  const ha = haServices(config, system.log);
  const election = ha?.leaderElection() ?? null;
  const master = system.spawn('master', masterMachine, {
    input: (env) => ({
      env,
      settings: {
        workDir,
        checkpointDir: config.checkpointDir,
        savepointDir: config.savepointDir,
        slotRequestTimeoutMs: config.slotRequestTimeoutMs,
        cancelTimeoutMs: config.cancelTimeoutMs,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        heartbeatTimeoutMs: config.heartbeatTimeoutMs,
        maxCollectedRecords: config.maxCollectedRecords,
        defaultParallelism: config.defaultParallelism,
      },
      ha: ha && election ? masterHa(ha, election) : null,
    }),
    supervision: { strategy: 'stop' },
  });
  if (election) {
    election.campaign(
      {
        grantLeadership: (sessionId) => master.tell({ type: 'master.leadership.granted', sessionId }),
        revokeLeadership: () => master.tell({ type: 'master.leadership.revoked' }),
      },
      system.node,
    );
  } else {
    master.tell({ type: 'master.leadership.granted', sessionId: '1' });
  }
  return {
    system,
    node: system.node,
    async stop() {
      master.tell({ type: 'master.stop' });
      // Resign first, so that a standby takes over at once rather than after the lease TTL.
      await election?.resign().catch(() => undefined);
      await ha?.close().catch(() => undefined);
      await system.terminate();
    },
  };
}
