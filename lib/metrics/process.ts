/** Starts a process's `/metrics` endpoint: process metrics, its actor system's message counts. */
import type { ActorSystem } from '../actor/system.js';
import type { ClusterConfig } from '../config.js';
import { metrics } from './registry.js';
import { startMetricsServer, type MetricsServer } from './server.js';

/** Null when `metricsPort` is -1 (off). */
export async function startProcessMetrics(config: ClusterConfig, system: ActorSystem): Promise<MetricsServer | null> {
  if (config.metricsPort < 0) return null;
  metrics.enableProcessMetrics();
  metrics.observeActorSystem(system);
  const server = await startMetricsServer({ host: config.host, advertisedHost: config.advertisedHost, port: config.metricsPort, metrics, log: system.log, allowedHosts: config.restAllowedHosts });
  system.log.info({ metrics: server.address }, 'metrics endpoint listening');
  return server;
}
