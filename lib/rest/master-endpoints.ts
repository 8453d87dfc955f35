/**
 * What a Master process serves over HTTP: the REST API with the dashboard, and its metrics
 * (including the cluster's, sampled from the Master actor). One call for the process script.
 */
import type { ActorSystem } from '../actor/system.js';
import { savepointRootsOf, type ClusterConfig } from '../config.js';
import type { MasterMessage } from '../../actors/master/protocol.js';
import { sampleMaster } from '../metrics/master-sampler.js';
import { startProcessMetrics } from '../metrics/process.js';
import { metrics } from '../metrics/registry.js';
import { SeriesStore, startSeriesSampler } from '../dashboard/series.js';
import { MasterGateway } from './gateway.js';
import { LeaderTracker } from './leadership.js';
import { startRestServer } from './server.js';

export interface MasterEndpoints {
  /** `host:port` of the REST API and dashboard; null when `restPort` is -1. */
  rest: string | null;
  /** `host:port` of `/metrics`; null when `metricsPort` is -1. */
  metrics: string | null;
  /** Report leadership here (granted, revoked, observed) for the REST API and the metrics. */
  leadership: LeaderTracker;
  close(): Promise<void>;
}

export async function startMasterEndpoints(config: ClusterConfig, system: ActorSystem, masterName = 'master'): Promise<MasterEndpoints> {
  const gateway = new MasterGateway(system.ref<MasterMessage>(system.node, masterName));
  const leadership = new LeaderTracker(system.node);
  const metricsServer = await startProcessMetrics(config, system);
  const stopSampling = metricsServer ? sampleMaster(metrics, gateway) : () => undefined;
  // The dashboard's charts: sampled by the leader only, and only with a dashboard to show them.
  const series = new SeriesStore();
  const stopSeries = config.restPort < 0 ? () => undefined : startSeriesSampler(series, gateway, () => leadership.isLeader, system.log, system.clock);
  const rest =
    config.restPort < 0
      ? null
      : await startRestServer({
          host: config.host,
          advertisedHost: config.advertisedHost,
          port: config.restPort,
          token: config.restToken,
          gateway,
          leadership,
          log: system.log,
          allowedHosts: config.restAllowedHosts,
          savepointRoots: savepointRootsOf(config),
          series,
        });
  leadership.setRestAddress(rest?.address ?? null);
  return {
    rest: rest?.address ?? null,
    metrics: metricsServer?.address ?? null,
    leadership,
    async close() {
      stopSampling();
      stopSeries();
      await Promise.all([rest?.close(), metricsServer?.close()]);
    },
  };
}
