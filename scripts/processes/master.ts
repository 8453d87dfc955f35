/**
 * A Master process: an actor system with the Master actor. In standalone mode (no etcd) it
 * leads at once with leader session 1; with etcd it campaigns, and leads only while elected.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ActorSystem } from '../../lib/index.js';
import { requireSecret, type ClusterConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logging.js';
import { masterMachine } from '../../actors/master/machine.js';
import type { MasterMessage } from '../../actors/master/protocol.js';

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
  const master = system.spawn('master', masterMachine, {
    input: (env) => ({
      env,
      settings: {
        workDir,
        slotRequestTimeoutMs: config.slotRequestTimeoutMs,
        cancelTimeoutMs: config.cancelTimeoutMs,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        heartbeatTimeoutMs: config.heartbeatTimeoutMs,
        maxCollectedRecords: config.maxCollectedRecords,
        defaultParallelism: config.defaultParallelism,
      },
    }),
    supervision: { strategy: 'stop' },
  });
  if (config.etcdEndpoints.length === 0) {
    master.tell({ type: 'master.leadership.granted', sessionId: '1' });
  } else {
    throw new Error('HA mode (etcdEndpoints) is not available in this build');
  }
  return {
    system,
    node: system.node,
    async stop() {
      (master as { tell(m: MasterMessage): void }).tell({ type: 'master.stop' });
      await system.terminate();
    },
  };
}
