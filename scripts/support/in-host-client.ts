/**
 * What the clients that run inside a namespace host share (the drill's client proxy, the hosts
 * bench's and the cross-host tests' job clients): the test or bench process, in the root
 * namespace, reaches no host address, so these run in a host with the cluster's environment.
 */
import { ClusterClient } from '../../lib/client/cluster-client.js';
import { etcdCredentialsFromEnv } from '../../lib/ha/etcd-auth.js';
import { createLogger } from '../../lib/logging.js';

/**
 * A client of the cluster that the environment names (FLINKISH_CLUSTER_ID, FLINKISH_CLIENT_SECRET,
 * FLINKISH_ETCD_ENDPOINTS and etcd's credentials), with short requests: a cut or paused leader
 * must not hold a status call for long.
 */
export function clientFromEnv(name: string): Promise<ClusterClient> {
  return ClusterClient.connect({
    etcdEndpoints: process.env['FLINKISH_ETCD_ENDPOINTS']!.split(','),
    etcdCredentials: etcdCredentialsFromEnv(),
    clusterId: process.env['FLINKISH_CLUSTER_ID']!,
    clientSecret: process.env['FLINKISH_CLIENT_SECRET']!,
    requestTimeoutMs: 1000,
    failoverTimeoutMs: 30_000,
    logger: createLogger({ name, level: process.env['LOG_LEVEL'] ?? 'warn' }),
  });
}

/** A Master's own answer to GET /api/leader at `rest` (host:port); nulls if it does not answer within 500 ms. */
export async function leaderAnswer(rest: string): Promise<{ rest: string; isLeader: boolean | null; leader: string | null }> {
  try {
    const answer = (await (await fetch(`http://${rest}/api/leader`, { signal: AbortSignal.timeout(500) })).json()) as { isLeader: boolean; leader: { node: string } | null };
    return { rest, isLeader: answer.isLeader, leader: answer.leader?.node ?? null };
  } catch {
    return { rest, isLeader: null, leader: null };
  }
}
