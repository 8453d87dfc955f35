/**
 * A Master process: an actor system with the Master actor. In standalone mode (no etcd) it
 * leads at once with leader session 1; in HA mode it campaigns through etcd and leads only
 * while elected: its election revokes leadership before its lease can expire.
 */
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ActorSystem } from '../../lib/index.js';
import { requireSecret, s3SettingsOf, savepointRootsOf, type ClusterConfig } from '../../lib/config.js';
import { configureStorage, prepareStorage } from '../../lib/storage/index.js';
import { createLogger } from '../../lib/logging.js';
import { masterMachine } from '../../actors/master/machine.js';
import { CLIENT_MESSAGE_TYPES, MASTER_LOCAL_EVENTS } from '../../actors/master/protocol.js';
import { haServices, masterHa } from './ha.js';
import { startMasterEndpoints } from '../../lib/rest/master-endpoints.js';
import type { LeaderTracker } from '../../lib/rest/leadership.js';

export interface RunningMaster {
  system: ActorSystem;
  node: string;
  /** REST API and dashboard (`host:port`), null when off. */
  rest: string | null;
  /** Prometheus `/metrics` (`host:port`), null when off. */
  metrics: string | null;
  /** Leadership as this process sees it, for the REST API and the metrics. */
  leadership: LeaderTracker;
  /** The client secret this Master accepts (a random one when none is configured: then only this process knows it). */
  clientSecret: string;
  stop(): Promise<void>;
}

export async function startMaster(config: ClusterConfig): Promise<RunningMaster> {
  const logger = createLogger({ name: 'master', level: config.logLevel });
  configureStorage(s3SettingsOf(config));
  prepareStorage(config.checkpointDir); // not inside the first checkpoint's completion
  const clientSecret = config.clientSecret || randomBytes(24).toString('hex');
  if (!config.clientSecret) logger.warn('no clientSecret configured: clients (the CLI) are refused; set FLINKISH_CLIENT_SECRET');
  const system = await ActorSystem.start({
    clusterId: config.clusterId,
    secret: requireSecret(config),
    clientSecret,
    clientProtocol: { actor: 'master', types: CLIENT_MESSAGE_TYPES },
    host: config.host,
    advertisedHost: config.advertisedHost,
    port: config.masterPort,
    name: 'master',
    logger,
  });
  const workDir = path.resolve(config.workDir, `master-${system.node.replace(/[^\w.-]/g, '_')}`);
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const ha = haServices(config, system.log);
  const election = ha?.leaderElection() ?? null;
  const master = system.spawn('master', masterMachine, {
    input: (env) => ({
      env,
      settings: {
        workDir,
        checkpointDir: config.checkpointDir,
        savepointDir: config.savepointDir,
        savepointRoots: savepointRootsOf(config),
        slotRequestTimeoutMs: config.slotRequestTimeoutMs,
        cancelTimeoutMs: config.cancelTimeoutMs,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        heartbeatTimeoutMs: config.heartbeatTimeoutMs,
        reconcileTimeoutMs: config.reconcileTimeoutMs,
        maxCollectedRecords: config.maxCollectedRecords,
        defaultParallelism: config.defaultParallelism,
        jobBuildTimeoutMs: config.jobBuildTimeoutMs,
        jobBuildMemoryMb: config.jobBuildMemoryMb,
        jobModuleMaxBytes: config.jobModuleMaxBytes,
      },
      ha: ha && election ? masterHa(ha, election, system) : null,
    }),
    supervision: { strategy: 'stop' },
    localOnly: MASTER_LOCAL_EVENTS,
    // A message its state does not take is a dead letter, and an ask fails at once (UNHANDLED_IN_STATE).
    reportUnhandled: true,
  });
  const endpoints = await startMasterEndpoints(config, system);
  const { leadership } = endpoints;
  if (election) {
    election.campaign(
      {
        grantLeadership: (sessionId) => {
          master.tell({ type: 'master.leadership.granted', sessionId });
          leadership.granted(sessionId);
        },
        revokeLeadership: () => {
          master.tell({ type: 'master.leadership.revoked' });
          leadership.revoked();
        },
      },
      system.node,
      // Published with the leader key, so that a standby's 421 and GET /api/leader name it.
      { rest: endpoints.rest, instance: system.instance },
    );
    // A standby learns who leads (for REST redirects and the failover history).
    ha?.leaderRetrieval().start((leader) => leadership.observed(leader && { sessionId: leader.sessionId, node: leader.address, rest: leader.rest }));
  } else {
    master.tell({ type: 'master.leadership.granted', sessionId: '1' });
    leadership.granted('1');
  }
  return {
    system,
    node: system.node,
    rest: endpoints.rest,
    metrics: endpoints.metrics,
    leadership,
    clientSecret,
    async stop() {
      await endpoints.close();
      master.tell({ type: 'master.stop' });
      // Resign first, so that a standby takes over at once rather than after the lease TTL.
      await election?.resign().catch(() => undefined);
      await ha?.close().catch(() => undefined);
      await system.terminate();
    },
  };
}
