/**
 * Real etcd members on three namespace hosts (a fourth host runs the launcher and the clients):
 * a member's host partitioned from the other members leaves a quorum that takes writes, the cut
 * member serves no linearizable read (only a stale serializable one), and after the heal it
 * catches up. Needs root, `ip` and `nft`: without them the `before` hook fails with the reason.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Proc } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';
import { useNetnsHosts, type NetnsHost } from '../support/netns-hosts.js';
import { etcdCredentialEnv } from '../../lib/ha/etcd-auth.js';
import { NETNS_ETCD_MEMBERS } from '../../scripts/support/netns-ha.js';

const FIXTURE = 'test/fixtures/etcd-hosts.js';

const events = (proc: Proc, name: string): Array<Record<string, unknown>> =>
  proc.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['event'] === name);

/** Signal the client and resolve with the next `names` events it prints. */
async function request(proc: Proc, signal: NodeJS.Signals, ...names: string[]): Promise<Array<Record<string, unknown>>> {
  const seen = names.map((n) => events(proc, n).length);
  proc.kill(signal);
  return Promise.all(names.map((n, i) => waitFor(`${proc.name} ${n}`, () => events(proc, n)[seen[i]!], { timeoutMs: 10_000 })));
}

describe('netns hosts - etcd members on separate hosts', function () {
  this.timeout(90_000);
  const hosts = useNetnsHosts(4);
  let cluster: Proc;

  before(async function () {
    this.timeout(60_000);
    const [, ...memberHosts] = hosts.net.hosts;
    cluster = await hosts.net.hosts[0]!.launch(NETNS_ETCD_MEMBERS, {
      // Data on the launcher's host disk, so that destroying the hosts removes it in any case.
      args: ['start', ...memberHosts.flatMap((h) => ['--member', `${h.address}=${h.namespace}`]), '--data-dir', path.join(hosts.net.hosts[0]!.dataDir, 'etcd')],
      readyTimeoutMs: 45_000,
      name: 'etcd',
    });
  });

  after(async () => {
    await cluster?.stop();
  });

  async function client(endpoints: NetnsHost[], name: string): Promise<Proc> {
    const urls = endpoints.map((h) => (cluster.ready['endpoints'] as string[]).find((u) => u.includes(`//${h.address}:`))!);
    return hosts.net.hosts[0]!.launch(FIXTURE, {
      args: ['client', '--endpoints', urls.join(','), '--key', 'probe'],
      env: etcdCredentialEnv({ username: String(cluster.ready['username']), password: String(cluster.ready['password']) }),
      name,
    });
  }

  it('members listen on and advertise their host addresses', () => {
    assert.deepEqual(cluster.ready['endpoints'], ['http://198.18.0.2:2379', 'http://198.18.0.3:2379', 'http://198.18.0.4:2379']);
  });

  it('a partitioned member: the other two keep a quorum, it serves no linearizable read, and catches up after the heal', async () => {
    const [, m1, m2, m3] = hosts.net.hosts as [NetnsHost, NetnsHost, NetnsHost, NetnsHost];
    const writer = await client([m1, m2], 'writer');
    const reader = await client([m3], 'reader');
    const [first] = await request(writer, 'SIGUSR1', 'put');
    assert.equal(first!['ok'], true);
    const [before] = await request(reader, 'SIGUSR2', 'linearizable');
    assert.deepEqual(before, { event: 'linearizable', ok: true, value: '1' });

    const cut = await hosts.net.partition(m3, [m1, m2]);
    // If m3 led etcd, the others elect a new leader first: a write may time out meanwhile.
    const written = await waitFor('a write through the majority', async () => {
      const [put] = await request(writer, 'SIGUSR1', 'put');
      return put!['ok'] === true ? String(put!['value']) : null;
    }, { timeoutMs: 20_000 });
    const [linearizable, serializable] = await request(reader, 'SIGUSR2', 'linearizable', 'serializable');
    // No quorum: the read waits for a read index that never comes (a deadline, or etcd's own timeout).
    assert.equal(linearizable!['ok'], false, 'the cut member served a linearizable read');
    // It is up and reachable, only cut from its peers: its local (stale) state still answers.
    assert.deepEqual(serializable, { event: 'serializable', ok: true, value: '1' });

    await cut.heal();
    await waitFor('the cut member caught up', async () => {
      const [read] = await request(reader, 'SIGUSR2', 'linearizable');
      return read!['ok'] === true && read!['value'] === written;
    }, { timeoutMs: 20_000 });
    await Promise.all([writer.stop(), reader.stop()]);
  });
});
