/**
 * The namespace test hosts themselves, with real processes: reachability over the bridge,
 * symmetric and one-way partitions and their healing, host kill, and that nothing of a run
 * survives it (also after SIGTERM, and after SIGKILL through the next run's sweep).
 * Needs root, `ip` and `nft`: without them the `before` hook fails with the reason.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { launch, type Proc } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';
import {
  NetnsErrorCode,
  NetnsHosts,
  listOurNamespaces,
  sweepStaleNetnsHosts,
  useNetnsHosts,
  type NetnsHost,
} from '../support/netns-hosts.js';
import { RuntimeError } from '../../lib/errors.js';

const PROBE = 'test/fixtures/net-probe.js';
/** How long a probe waits for a connection that a partition should prevent. */
const CUT_TIMEOUT_MS = 1500;

interface TcpResult {
  connected: boolean;
  echoed: boolean;
  error?: string;
}

async function serve(host: NetnsHost): Promise<Proc & { tcpPort: number; udpPort: number }> {
  const proc = await host.launch(PROBE, { args: ['serve'], name: 'serve' });
  return Object.assign(proc, { tcpPort: Number(proc.ready['tcpPort']), udpPort: Number(proc.ready['udpPort']) });
}

async function tcpProbe(from: NetnsHost, to: NetnsHost, port: number, timeoutMs = CUT_TIMEOUT_MS): Promise<TcpResult> {
  const proc = await from.launch(PROBE, {
    args: ['connect', '--host', to.address, '--port', String(port), '--timeout-ms', String(timeoutMs)],
    name: `connect-${to.name}`,
    readyTimeoutMs: timeoutMs + 10_000,
  });
  await proc.waitForExit();
  const { ready: _ready, ...result } = proc.ready;
  return result as unknown as TcpResult;
}

async function udpSend(from: NetnsHost, to: NetnsHost, port: number, message: string): Promise<void> {
  const proc = await from.launch(PROBE, { args: ['udp-send', '--host', to.address, '--port', String(port), '--message', message], name: 'udp-send' });
  await proc.waitForExit();
}

const event = (name: string, field: string, value: unknown) => (line: string): boolean => {
  if (!line.startsWith('{')) return false;
  const parsed = JSON.parse(line) as Record<string, unknown>;
  return parsed['event'] === name && parsed[field] === value;
};

/** Running, and not a zombie waiting for its parent to reap it. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function rootLinks(): string[] {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(':')[1]?.trim() ?? '')
    .filter(Boolean)
    .sort();
}

describe('netns hosts - hosts, partitions and host kill', function () {
  this.timeout(60_000);
  const hosts = useNetnsHosts(3);

  it('gives each host an address from 198.18.0.0/24 and lets every host reach every other over TCP', async () => {
    const { net } = hosts;
    assert.deepEqual(net.hosts.map((h) => h.address), ['198.18.0.1', '198.18.0.2', '198.18.0.3']);
    const servers = await Promise.all(net.hosts.map(serve));
    for (const [i, from] of net.hosts.entries()) {
      for (const [j, to] of net.hosts.entries()) {
        if (i === j) continue;
        assert.deepEqual(await tcpProbe(from, to, servers[j]!.tcpPort, 5000), { connected: true, echoed: true }, `${from.name} -> ${to.name}`);
        await servers[j]!.waitForLine(event('tcp-line', 'from', from.address));
      }
    }
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('a symmetric partition cuts both directions, leaves other hosts alone, and heals', async () => {
    const { net } = hosts;
    const [a, b, c] = net.hosts as [NetnsHost, NetnsHost, NetnsHost];
    const [serverA, serverB] = await Promise.all([serve(a), serve(b)]);
    const cut = await net.partition(a, b);
    const [ab, ba, ca] = await Promise.all([tcpProbe(a, b, serverB.tcpPort), tcpProbe(b, a, serverA.tcpPort), tcpProbe(c, a, serverA.tcpPort, 5000)]);
    assert.equal(ab.connected, false, 'a -> b passed a partition');
    assert.equal(ab.error, 'timeout', 'a partition drops silently, it does not refuse');
    assert.equal(ba.connected, false, 'b -> a passed a partition');
    assert.deepEqual(ca, { connected: true, echoed: true }, 'c is not part of the partition');
    await cut.heal();
    assert.deepEqual(await tcpProbe(a, b, serverB.tcpPort, 5000), { connected: true, echoed: true });
    assert.deepEqual(await tcpProbe(b, a, serverA.tcpPort, 5000), { connected: true, echoed: true });
    await Promise.all([serverA.stop(), serverB.stop()]);
  });

  it('a one-way partition a->b drops only what a sends to b', async () => {
    const { net } = hosts;
    const [a, b] = net.hosts as [NetnsHost, NetnsHost];
    const [serverA, serverB] = await Promise.all([serve(a), serve(b)]);
    // A TCP connection from b to a, established before the cut, with one round trip.
    const session = await b.launch(PROBE, { args: ['session', '--host', a.address, '--port', String(serverA.tcpPort)], name: 'session' });
    assert.equal(session.ready['connected'], true);
    session.kill('SIGUSR1');
    await session.waitForLine(event('echo', 'line', '1'));

    const cut = await net.partition(a, b, { oneWay: true });
    // b -> a passes: a datagram arrives, and so do b's bytes on the established connection...
    await udpSend(b, a, serverA.udpPort, 'b-to-a');
    await serverA.waitForLine(event('udp', 'message', 'b-to-a'));
    session.kill('SIGUSR1');
    await serverA.waitForLine(event('tcp-line', 'line', '2'));
    // ...a -> b is dropped: a's datagram is lost, and no new TCP connection can be set up in
    // either direction (from b, a's SYN-ACK is what gets lost).
    await udpSend(a, b, serverB.udpPort, 'a-to-b');
    const [ab, ba] = await Promise.all([tcpProbe(a, b, serverB.tcpPort), tcpProbe(b, a, serverA.tcpPort)]);
    assert.equal(ab.connected, false, 'a -> b connected through a one-way cut');
    assert.equal(ba.connected, false, "b -> a connected although a's replies are dropped");
    // By now (a probe timeout later) anything that a's kernel sent to b would have arrived.
    assert.equal(serverB.output.some(event('udp', 'message', 'a-to-b')), false, "a's datagram reached b");
    assert.equal(session.output.some(event('echo', 'line', '2')), false, "a's echo reached b");

    await cut.heal();
    // TCP retransmits what was held back: the echo of 2 arrives after the heal.
    await session.waitForLine(event('echo', 'line', '2'), 20_000);
    await udpSend(a, b, serverB.udpPort, 'a-to-b-healed');
    await serverB.waitForLine(event('udp', 'message', 'a-to-b-healed'));
    await Promise.all([serverA.stop(), serverB.stop(), session.stop()]);
  });

  it('partitions stack: a direction cut twice passes only when both are healed', async () => {
    const { net } = hosts;
    const [a, b, c] = net.hosts as [NetnsHost, NetnsHost, NetnsHost];
    const serverB = await serve(b);
    const first = await net.partition(a, b);
    const second = await net.isolate(b);
    await first.heal();
    assert.equal((await tcpProbe(a, b, serverB.tcpPort)).connected, false, 'b is still isolated');
    await second.heal();
    assert.deepEqual(await tcpProbe(a, b, serverB.tcpPort, 5000), { connected: true, echoed: true });
    assert.deepEqual(await tcpProbe(c, b, serverB.tcpPort, 5000), { connected: true, echoed: true });
    await serverB.stop();
  });

  it('killing a host ends every process in it, deletes its disk, and silences it; revive boots it empty', async () => {
    const { net } = hosts;
    const [a, b, c] = net.hosts as [NetnsHost, NetnsHost, NetnsHost];
    const survivor = await serve(b);
    const victims = [await serve(c), await c.launch(PROBE, { args: ['spawn-tree'], name: 'tree' })];
    const grandchild = Number(victims[1]!.ready['childPid']);
    assert.ok(alive(grandchild), 'the grandchild runs');
    writeFileSync(path.join(c.dataDir, 'state'), 'checkpoint');
    // `ip netns exec` execs: the launcher's PID is the process itself, in the host's namespace.
    const inHost = await c.pids();
    for (const pid of [...victims.map((v) => v.pid), grandchild]) assert.ok(inHost.includes(pid), `pid ${pid} is not in ${c.namespace}`);

    await c.kill();
    for (const pid of [...victims.map((v) => v.pid), grandchild]) {
      await waitFor(`pid ${pid} gone`, () => !alive(pid));
    }
    assert.deepEqual(await c.pids(), []);
    assert.equal(existsSync(c.dataDir), false, 'the host disk survived');
    assert.equal(survivor.running, true, 'a process on another host died');
    await assert.rejects(c.launch(PROBE, { args: ['serve'] }), (err: RuntimeError) => err.code === NetnsErrorCode.InvalidUse);
    // Silence, as from a dead machine: the connection times out, nobody refuses it.
    const toDead = await tcpProbe(a, c, (victims[0] as Awaited<ReturnType<typeof serve>>).tcpPort);
    assert.deepEqual(toDead, { connected: false, echoed: false, error: 'timeout' });

    await c.revive();
    assert.deepEqual(readdirSync(c.dataDir), []);
    const reborn = await serve(c);
    assert.deepEqual(await tcpProbe(a, c, reborn.tcpPort, 5000), { connected: true, echoed: true });
    await Promise.all([reborn.stop(), survivor.stop()]);
  });
});

describe('netns hosts - nothing survives a run', function () {
  this.timeout(60_000);

  it('destroy removes every namespace, link, process and data directory of the run', async () => {
    const linksBefore = rootLinks();
    const net = await NetnsHosts.create({ hosts: 2 });
    const server = await serve(net.hosts[1]!);
    assert.deepEqual((await listOurNamespaces()).filter((n) => n.startsWith(net.runId)).sort(), [...net.namespaces].sort());
    await net.destroy();
    assert.deepEqual((await listOurNamespaces()).filter((n) => n.startsWith(net.runId)), []);
    assert.deepEqual(rootLinks(), linksBefore, 'the root namespace gained or lost a link');
    await waitFor('server gone', () => !server.running);
    assert.equal(existsSync(net.dataRoot), false);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`a run ended by ${signal} removes its namespaces and processes on the way out`, async () => {
      const holder = await launch('test/fixtures/netns-holder.js', { readyTimeoutMs: 30_000 });
      const runId = String(holder.ready['runId']);
      assert.equal((await listOurNamespaces()).filter((n) => n.startsWith(runId)).length, 3);
      holder.kill(signal);
      await holder.waitForExit();
      assert.equal(holder.signal, signal, 'the signal was swallowed instead of ending the process');
      assert.deepEqual((await listOurNamespaces()).filter((n) => n.startsWith(runId)), []);
      await waitFor('the server in the namespace gone', () => !alive(Number(holder.ready['serverPid'])));
      assert.equal(existsSync(String(holder.ready['dataRoot'])), false);
  });
  }

  it('what a SIGKILLed run left is swept by the next run, and live runs are left alone', async () => {
    const live = await NetnsHosts.create({ hosts: 1 });
    try {
      const holder = await launch('test/fixtures/netns-holder.js', { readyTimeoutMs: 30_000 });
      const runId = String(holder.ready['runId']);
      holder.kill('SIGKILL');
      await holder.waitForExit();
      assert.equal((await listOurNamespaces()).filter((n) => n.startsWith(runId)).length, 3, 'SIGKILL ran cleanup?');
      const swept = await sweepStaleNetnsHosts();
      assert.deepEqual(swept.filter((n) => n.startsWith(runId)).sort(), [...(holder.ready['namespaces'] as string[])].sort());
      assert.deepEqual((await listOurNamespaces()).filter((n) => n.startsWith(runId)), []);
      await waitFor("the dead run's server gone", () => !alive(Number(holder.ready['serverPid'])));
      assert.equal(existsSync(String(holder.ready['dataRoot'])), false);
      assert.deepEqual((await listOurNamespaces()).filter((n) => n.startsWith(live.runId)).sort(), [...live.namespaces].sort());
    } finally {
      await live.destroy();
    }
  });

  it('a missing ip or nft is a clear error naming what to install', async () => {
    await assert.rejects(NetnsHosts.create({ hosts: 2, ipCommand: '/nonexistent/ip' }), (err: RuntimeError) => {
      return err.code === NetnsErrorCode.Unavailable && err.message.includes('iproute2');
    });
    await assert.rejects(NetnsHosts.create({ hosts: 2, nftCommand: '/nonexistent/nft' }), (err: RuntimeError) => {
      return err.code === NetnsErrorCode.Unavailable && err.message.includes('nftables');
    });
  });
});
