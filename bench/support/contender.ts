/**
 * A bare etcd election contender, the floor that Master failover is measured against: it
 * campaigns with EtcdLeaderElection and prints `{"ready":true}` once campaigning and
 * `{"leading":true}` when elected.
 */
import { EtcdHaServices } from '../../lib/ha/etcd-ha-services.js';
import { etcdCredentialsFromEnv } from '../../lib/ha/etcd-auth.js';

const ha = new EtcdHaServices({
  endpoints: (process.env['ETCD_ENDPOINTS'] ?? '').split(','),
  ...etcdCredentialsFromEnv(),
  clusterId: process.env['CLUSTER_ID'] ?? 'bench',
  leaseTtlSeconds: Number(process.env['LEASE_TTL_SECONDS'] ?? 3),
});
const election = ha.leaderElection();
election.campaign(
  {
    grantLeadership: (sessionId) => process.stdout.write(JSON.stringify({ leading: true, sessionId, at: Date.now() }) + '\n'),
    revokeLeadership: () => process.stdout.write(JSON.stringify({ leading: false, at: Date.now() }) + '\n'),
  },
  `contender-${process.pid}`,
);
process.stdout.write(JSON.stringify({ ready: true, pid: process.pid }) + '\n');
