/**
 * Attacks on real processes by an authenticated peer: a decoding bomb, thousands of asks whose
 * replyTo names nodes that do not exist, idle data connections. None may cost a process its
 * memory, its leadership or its log.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ActorSystem } from '../../lib/actor/system.js';
import type { MasterMessage } from '../../actors/master/protocol.js';
import { encodeFrame } from '../../lib/transport/frame.js';
import type { Proc } from '../support/launcher.js';
import { RawPeer } from '../support/raw-peer.js';
import { Plane } from '../../lib/transport/handshake.js';
import { waitFor } from '../support/wait.js';
import { haClusterPerTest } from '../support/ha-cluster.js';

const MiB = 1024 * 1024;

/** Peak and current resident memory of a process, from the kernel. */
function memoryOf(proc: Proc): { peak: number; now: number } {
  const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { peak: kib('VmHWM'), now: kib('VmRSS') };
}

/** One gauge of the Master's /metrics. */
async function gauge(proc: Proc, name: string): Promise<number> {
  const text = await (await fetch(`http://${proc.ready['metrics'] as string}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is exported`);
  return Number(line.split(' ')[1]);
}

describe('security - what a stranger can make a process hold', function () {
  this.timeout(120_000);
  const clusters = haClusterPerTest();

  it('refuses 16 MiB and 8 MiB frames of empty maps before decoding them: the Master stays under +100 MiB of peak memory and keeps leading', async () => {
    const cluster = await clusters.start({ masters: 1, taskExecutors: 0 });
    const client = await cluster.client();
    await waitFor('a leader', () => client.overview(), { timeoutMs: 20_000 });
    const master = cluster.masters[0]!;
    const before = memoryOf(master);

    const bomb = async (frameBytes: number, refusal: string): Promise<void> => {
      const peer = await RawPeer.connect(master.ready['node'] as string);
      await peer.handshake(cluster!.env['FLINKISH_CLUSTER_ID']!, cluster!.env['FLINKISH_SECRET']!);
      // [Tell, 'master', [{}, {}, ...]]: as many empty maps as fill the frame.
      const head = Buffer.from([0x93, 0x01, 0xa6, ...Buffer.from('master'), 0xdd, 0, 0, 0, 0]);
      const maps = frameBytes - head.length;
      head.writeUInt32BE(maps, head.length - 4);
      peer.write(encodeFrame(Buffer.concat([head, Buffer.alloc(maps, 0x80)])));
      await peer.waitClosed(20_000);
      await master.waitForLine((line) => line.includes(refusal), 5000);
    };
    // 16 MiB: above the control plane's inbound frame limit, refused from its length prefix.
    await bomb(16 * MiB, 'exceeds the limit of 8388608');
    // 8 MiB, at the limit: it would decode to ~500 MB of empty objects; refused by the pre-scan.
    await bomb(8 * MiB, 'would decode to more than');

    const after = memoryOf(master);
    assert.ok(after.peak - before.peak < 100 * MiB, `peak resident memory grew by ${((after.peak - before.peak) / MiB).toFixed(0)} MiB`);
    assert.equal(cluster.leader(client), master);
    assert.ok((await client.overview()).leaderSessionId);
  });

  it('forgets 20,000 fake replyTo nodes: associations back to where they were, memory bounded, few log lines', async () => {
    const cluster = await clusters.start({ masters: 1, taskExecutors: 0 });
    const client = await cluster.client();
    await waitFor('a leader', () => client.overview(), { timeoutMs: 20_000 });
    const master = cluster.masters[0]!;
    let lines = 0;
    const stopCounting = master.onLine(() => lines++);
    const baseline = await gauge(master, 'flinkish_transport_associations');
    const before = memoryOf(master);

    const attacker = await ActorSystem.start({
      clusterId: cluster.env['FLINKISH_CLUSTER_ID']!,
      secret: cluster.env['FLINKISH_SECRET']!,
      listen: false,
    });
    try {
      const target = attacker.ref<MasterMessage>(master.ready['node'] as string, 'master');
      try {
        for (let i = 0; i < 20_000; i++) {
          // Distinct loopback addresses on a port nobody listens on: each reply would dial a new node.
          const replyTo = attacker.ref<never>(`127.42.${i >> 8}.${i & 255}:9`, '$ask/1');
          await target.send({ type: 'master.job.list', replyTo });
          // A round trip now and then: the Master must keep serving through the attack.
          if (i % 1000 === 999) assert.deepEqual(await target.ask({ type: 'master.job.list' }, { timeoutMs: 30_000 }), []);
        }
        // At most maxUnconnectedPeers are dialed (the other replies are dead letters at once), each
        // retried until reconnect.giveUpAfterMs (10 s), then forgotten.
        await waitFor('the fake nodes forgotten', async () => (await gauge(master, 'flinkish_transport_associations')) <= baseline + 1, {
          timeoutMs: 60_000,
          intervalMs: 200,
        });
      } catch (err) {
        (err as Error).message += `\nMaster's last lines:\n${master.tail(40)}`;
        throw err;
      }
    } finally {
      await attacker.terminate();
      stopCounting();
    }
    // Before, every fake node kept an association (with a 64 KiB send buffer) for good: 163 → 262 MB
    // for 20,000. Now nothing stays per node; this bound allows allocator slack, not retention.
    const grew = (memoryOf(master).now - before.now) / MiB;
    assert.ok(grew < 160, `resident memory grew by ${grew.toFixed(0)} MiB`);
    assert.ok(lines < 200, `${lines} log lines for 20,000 unreachable reply nodes`);
    assert.ok((await client.overview()).leaderSessionId);
  });

  it("a TaskExecutor closes idle data connections: an unauthenticated one at the handshake timeout, an authenticated one at the idle timeout", async () => {
    const cluster = await clusters.start({ masters: 1, taskExecutors: 1 });
    const te = cluster.taskExecutors[0]!;
    const dataAddress = te.ready['dataAddress'] as string;
    const stranger = await RawPeer.connect(dataAddress);
    const silent = await RawPeer.connect(dataAddress);
    await silent.handshake(cluster.env['FLINKISH_CLUSTER_ID']!, cluster.env['FLINKISH_SECRET']!, { plane: Plane.Data });
    // Default handshake timeout 5 s, idle timeout 10 s.
    await Promise.all([stranger.waitClosed(15_000), silent.waitClosed(20_000)]);
    await te.waitForLine((line) => line.includes('data connection idle'), 1000);
    assert.ok(te.running);
  });
});
