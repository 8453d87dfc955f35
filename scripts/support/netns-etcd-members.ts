/**
 * Entry point run inside one namespace host (the root namespace reaches no host address):
 *
 * - `start --member ADDRESS=NAMESPACE (×3) --data-dir DIR`: one etcd member on each host (auth
 *   on, as always); prints `{"ready":true,endpoints,username,password}`; SIGTERM stops them.
 *   `startEtcdCluster` probes every member and enables auth, so it must run where all are reachable.
 * - `move-leader --endpoints URL,... --away-from URL`: with FLINKISH_ETCD_* credentials, make
 *   sure etcd's own leader is not the member at `--away-from` (moving it if it is); prints
 *   `{"ready":true,leader}` and exits. A test that cuts a host uses it to measure the Masters'
 *   election alone: a cut etcd leader first costs etcd's own election, and a new etcd leader
 *   extends every lease by an election timeout (so this returns once no lease is extended).
 */
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { startEtcdCluster } from '../../lib/ha/etcd-server.js';
import { etcdCredentialsFromEnv, etcdSecurityOptions } from '../../lib/ha/etcd-auth.js';
import { waitFor } from './wait.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { member: { type: 'string', multiple: true, default: [] }, 'data-dir': { type: 'string' }, endpoints: { type: 'string' }, 'away-from': { type: 'string' } },
});
const print = (value: Record<string, unknown>): void => void process.stdout.write(JSON.stringify({ ready: true, ...value }) + '\n');

if (positionals[0] === 'start') {
  const hosts = values.member!.map((spec) => {
    const [address, namespace] = spec.split('=') as [string, string];
    return { address, commandPrefix: ['ip', 'netns', 'exec', namespace] };
  });
  const etcd = await startEtcdCluster({ members: 3, hosts, readyTimeoutMs: 30_000, ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}) });
  process.on('SIGTERM', () => void etcd.stop().then(() => process.exit(0)));
  print({ endpoints: etcd.endpoints, username: etcd.credentials.username, password: etcd.credentials.password });
} else if (positionals[0] === 'move-leader') {
  const security = etcdSecurityOptions(etcdCredentialsFromEnv());
  const connect = (urls: string[]): Etcd3 => new Etcd3({ hosts: urls, ...security, dialTimeout: 2000, defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 2000 }) });
  const client = connect(values.endpoints!.split(','));
  const away = values['away-from']!;
  const leaderUrl = async (): Promise<{ id: string; url: string; others: Array<{ ID: string }> }> => {
    const [status, list] = await Promise.all([client.maintenance.status(), client.cluster.memberList({ linearizable: true })]);
    const leader = list.members.find((m) => m.ID === status.leader)!;
    return { id: leader.ID, url: leader.clientURLs[0]!, others: list.members.filter((m) => m.ID !== leader.ID) };
  };
  const leader = await waitFor('etcd has a leader away from the cut host', async () => {
    const now = await leaderUrl();
    if (now.url !== away) return now.url;
    const atLeader = connect([now.url]); // only the leader can hand leadership over
    try {
      await atLeader.maintenance.moveLeader({ targetID: now.others.find((m) => m.ID !== now.id)!.ID });
    } finally {
      atLeader.close();
    }
    return null;
  }, { timeoutMs: 10_000, intervalMs: 100 });
  // A new etcd leader extends every lease by an election timeout, until its next keepalive: wait
  // until none is extended, so that a lease cut now expires one TTL after its last keepalive.
  await waitFor('no lease extended by the etcd leader change', async () => {
    const { leases } = await client.leaseClient.leaseLeases();
    const ttls = await Promise.all(leases.map((l) => client.leaseClient.leaseTimeToLive({ ID: l.ID, keys: false })));
    return ttls.every((t) => Number(t.TTL) <= Number(t.grantedTTL));
  }, { timeoutMs: 10_000, intervalMs: 100 });
  client.close();
  print({ leader });
  process.exit(0);
} else {
  process.stderr.write('netns-etcd-members: use start or move-leader\n');
  process.exit(2);
}
