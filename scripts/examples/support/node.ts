/** What both example services do at start: an actor system, an etcd client, a singleton manager. */
import type { Etcd3 } from 'etcd3';
import { ActorSystem } from '../../../lib/index.js';
import { createEtcdClient, etcdCredentialsFromEnv, haRoot } from '../../../lib/ha/index.js';
import { EtcdSnapshotStore } from '../../../lib/persistence/index.js';
import { SingletonManager } from '../../../lib/singleton/index.js';

export interface ExampleNode {
  system: ActorSystem;
  client: Etcd3;
  singletons: SingletonManager;
  store: EtcdSnapshotStore;
  /** Hand over, stop, exit. */
  shutdown(): Promise<void>;
}

export function print(value: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

/**
 * Settings from the environment: ETCD_ENDPOINTS (and FLINKISH_ETCD_USERNAME/PASSWORD), GROUP, LEASE_TTL, CLUSTER_ID,
 * CLUSTER_SECRET, NODE_NAME, and FLINKISH_HOST / FLINKISH_ADVERTISED_HOST (bind and advertised address, loopback by default).
 */
export async function startExampleNode(defaultGroup: string): Promise<ExampleNode> {
  const env = process.env;
  const group = env['GROUP'] ?? defaultGroup;
  const system = await ActorSystem.start({
    clusterId: env['CLUSTER_ID'] ?? group,
    secret: env['CLUSTER_SECRET'] ?? 'example-secret-0123456789',
    name: env['NODE_NAME'] ?? group,
    ...(env['FLINKISH_HOST'] ? { host: env['FLINKISH_HOST'] } : {}),
    ...(env['FLINKISH_ADVERTISED_HOST'] ? { advertisedHost: env['FLINKISH_ADVERTISED_HOST'] } : {}),
    heartbeatIntervalMs: 200,
    heartbeatTimeoutMs: 1000,
  });
  const client = createEtcdClient({ endpoints: (env['ETCD_ENDPOINTS'] ?? 'http://127.0.0.1:2379').split(','), ...etcdCredentialsFromEnv(env) });
  const singletons = new SingletonManager(system, { etcd: client, group, leaseTtlSeconds: Number(env['LEASE_TTL'] ?? 3) });
  const store = new EtcdSnapshotStore({ root: client.namespace(haRoot(group)) });
  singletons.events.on('singleton.active', (singleton, token, restored) => print({ event: 'active', singleton, token, restored, node: system.node }));
  const shutdown = async (): Promise<void> => {
    await singletons.close();
    await system.terminate();
    client.close();
  };
  process.on('SIGTERM', () => void shutdown().then(() => process.exit(0)));
  process.on('SIGINT', () => void shutdown().then(() => process.exit(0)));
  return { system, client, singletons, store, shutdown };
}
