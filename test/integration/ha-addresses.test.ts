import assert from 'node:assert/strict';
import type { ClusterClient } from '../../lib/client/cluster-client.js';
import { startHaCluster, type HaCluster } from '../../scripts/support/local-ha.js';
import { killAll, type Proc } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';

interface LeaderAnswer {
  isLeader: boolean;
  node: string;
  leader: { node: string; rest: string | null; url: string | null } | null;
}

/**
 * HA Masters on 127.0.0.5 and 127.0.0.6 and a TaskExecutor on 127.0.0.7: what the leader
 * publishes in etcd (`{address, rest}`) is all that the standby, the TaskExecutor and clients
 * know of it, so those must be its advertised addresses.
 */
describe('addresses - HA Masters publish their advertised addresses in etcd', function () {
  this.timeout(90_000);
  let cluster: HaCluster;
  let client: ClusterClient;
  const leaderOf = async (m: Proc): Promise<LeaderAnswer> => (await fetch(`http://${String(m.ready['rest'])}/api/leader`)).json() as Promise<LeaderAnswer>;

  before(async () => {
    cluster = await startHaCluster({
      masters: 2,
      taskExecutors: 1,
      slots: 1,
      env: { FLINKISH_REST_PORT: '0', FLINKISH_METRICS_PORT: '-1' },
      masterArgs: (i) => ['--host', `127.0.0.${5 + i}`],
      taskExecutorArgs: () => ['--host', '127.0.0.7'],
    });
    client = await cluster.client();
  });
  after(async () => {
    await cluster?.stop();
    await killAll();
  });

  it('the standby, clients and TaskExecutors find the leader at its advertised address, also after a failover', async () => {
    cluster.masters.forEach((m, i) => {
      assert.match(String(m.ready['node']), new RegExp(`^127\\.0\\.0\\.${5 + i}:\\d+$`));
      assert.match(String(m.ready['rest']), new RegExp(`^127\\.0\\.0\\.${5 + i}:\\d+$`));
    });
    const [leader, standby] = await waitFor('a leader that the standby knows', async () => {
      const answers = await Promise.all(cluster.masters.map(leaderOf));
      const i = answers.findIndex((a) => a.isLeader);
      return i >= 0 && answers[1 - i]?.leader?.node === answers[i]!.node && [cluster.masters[i]!, cluster.masters[1 - i]!];
    }, { timeoutMs: 20_000 });
    // What the standby knows of the leader came from the leader's record in etcd.
    const seen = (await leaderOf(standby)).leader!;
    assert.deepEqual([seen.node, seen.rest], [leader.ready['node'], leader.ready['rest']]);
    const te = cluster.taskExecutors[0]!;
    assert.match(String(te.ready['dataAddress']), /^127\.0\.0\.7:\d+$/);
    await waitFor('the TaskExecutor registered with the leader', async () => {
      const o = await client.overview();
      return o.taskExecutors.length === 1 && o.taskExecutors[0]!.node === te.ready['node'] && o.taskExecutors[0]!.dataAddress === te.ready['dataAddress'];
    }, { timeoutMs: 15_000 });
    assert.equal(client.masterAddress, leader.ready['node']);

    leader.kill('SIGKILL');
    await waitFor('the standby to lead', async () => (await leaderOf(standby)).isLeader, { timeoutMs: 30_000 });
    await waitFor('the TaskExecutor re-registered with the new leader, by its advertised address', async () => {
      const o = await client.overview().catch(() => null);
      return client.masterAddress === standby.ready['node'] && o?.taskExecutors.length === 1 && o.taskExecutors[0]!.dataAddress === te.ready['dataAddress'];
    }, { timeoutMs: 30_000 });
  });
});
