/**
 * Attacks on the handshake and on roles, against real Master and TaskExecutor processes over
 * loopback, by a small attacker that speaks the wire protocol by hand (test/support/raw-peer.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ActorSystem } from '../../lib/index.js';
import { ClusterClient } from '../../lib/client/cluster-client.js';
import { Plane, Role, type Hello } from '../../lib/transport/handshake.js';
import { EnvelopeKind } from '../../lib/transport/protocol.js';
import { distRoot, killAll } from '../support/launcher.js';
import { CLI, jobPath, startCluster, type TestCluster } from '../support/cluster.js';
import { RawPeer } from '../support/raw-peer.js';
import { waitFor } from '../support/wait.js';

interface Endpoint {
  address: string;
  plane: Plane;
}

/**
 * The reflection attack: take the oracle's hello to the target while claiming to be the oracle,
 * and the target's hello to the oracle while claiming to be the target; offer the target every
 * MAC the oracle revealed (with the old handshake, the oracle's answer was exactly the MAC the
 * target expected). Returns what each side sent back.
 */
async function reflect(cluster: string, target: Endpoint, oracle: Endpoint): Promise<{ target: RawPeer; oracle: RawPeer }> {
  const t = await RawPeer.connect(target.address);
  const tHello = t.asHello(await t.nextFrame());
  const o = await RawPeer.connect(oracle.address);
  const oHello = o.asHello(await o.nextFrame());
  const posing = (as: Hello, plane: Plane): Hello => ({ t: 'hello', version: as.version, cluster, plane, role: Role.Node, node: as.node, uid: as.uid, nonce: as.nonce });
  // To the oracle, claim to be the target, with the target's own nonce.
  o.sendHello(posing(tHello, oracle.plane));
  // To the target, claim to be the oracle, with the oracle's nonce.
  t.sendHello(posing(oHello, target.plane));
  // Whatever the oracle reveals before we prove anything is all an attacker has.
  o.sendProof(Buffer.alloc(32));
  await o.waitClosed();
  const macs = o.macsSeen();
  for (const mac of macs.length > 0 ? macs : [Buffer.alloc(32)]) t.sendProof(mac);
  await t.waitClosed();
  return { target: t, oracle: o };
}

function assertRefusedWithoutMac(peer: RawPeer, what: string): void {
  const kinds = peer.seen.map((f) => (f as { t?: string }).t);
  assert.deepEqual(kinds, ['hello', 'refuse'], `${what}: sent ${JSON.stringify(peer.seen)}`);
  assert.equal((peer.seen[1] as { code: string }).code, 'AUTH_FAILED', what);
  assert.equal(peer.macsSeen().length, 0, `${what} revealed a MAC`);
}

describe('handshake - attacks on real processes', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let client: ClusterClient;
  let clusterId: string;
  const master = () => ({ address: cluster.masterAddress, plane: Plane.Control });
  const teControl = (i: number) => ({ address: String(cluster.taskExecutors[i]!.ready['node']), plane: Plane.Control });
  const teData = (i: number) => ({ address: String(cluster.taskExecutors[i]!.ready['dataAddress']), plane: Plane.Data });

  before(async () => {
    cluster = await startCluster({ taskExecutors: 2, slots: 1 });
    clusterId = cluster.env['FLINKISH_CLUSTER_ID']!;
    client = await cluster.client();
    await waitFor('both TaskExecutors registered', async () => (await client.overview()).slotsTotal === 2);
  });
  after(async () => {
    await cluster?.stop();
    await killAll();
  });

  it('handshake - reflection is refused on the control plane (a TaskExecutor as the oracle for the Master)', async () => {
    const { target, oracle } = await reflect(clusterId, master(), teControl(0));
    assertRefusedWithoutMac(target, 'the Master');
    assertRefusedWithoutMac(oracle, 'the TaskExecutor');
    await cluster.master.waitForLine((l) => /connection refused/.test(l) && /AUTH_FAILED/.test(l));
  });

  it('handshake - reflection is refused on the data plane (one TaskExecutor as the oracle for another)', async () => {
    const { target, oracle } = await reflect(clusterId, teData(0), teData(1));
    assertRefusedWithoutMac(target, 'te-1 data port');
    assertRefusedWithoutMac(oracle, 'te-2 data port');
  });

  it("handshake - reflection is refused across planes (a TaskExecutor's data port as the oracle for the Master)", async () => {
    const { target, oracle } = await reflect(clusterId, master(), teData(0));
    assertRefusedWithoutMac(target, 'the Master');
    assertRefusedWithoutMac(oracle, 'the data port');
  });

  it('handshake - a spoofed data-plane peer that fails authentication restarts nothing', async () => {
    const jobId = await client.submitFile(jobPath('slow-sink'), { parallelism: 2, args: { sinkDelayUs: 100 } });
    try {
      const before = await waitFor('the job to run on both TaskExecutors', async () => {
        const d = await client.status(jobId);
        return d.subtasks.length > 0 && d.subtasks.every((s) => s.state === 'running') && new Set(d.subtasks.map((s) => s.taskExecutorId)).size === 2 ? d : undefined;
      });
      const te1 = cluster.taskExecutors[0]!;
      const refusalsBefore = te1.output.filter((l) => /data connection refused/.test(l)).length;
      // Claim to be te-2 at te-1's data port, then fail the proof.
      const spoof = await RawPeer.connect(teData(0).address);
      const theirs = spoof.asHello(await spoof.nextFrame());
      spoof.sendHello({ ...theirs, node: 'te-2', uid: 'spoofed', nonce: Buffer.alloc(32, 7), role: Role.Node });
      spoof.sendProof(Buffer.alloc(32));
      await spoof.waitClosed();
      await waitFor('te-1 to refuse the spoofed peer', () => te1.output.filter((l) => /data connection refused/.test(l)).length > refusalsBefore);
      assert.match(te1.output.filter((l) => /data connection refused/.test(l)).at(-1)!, /AUTH_FAILED/, 'the claim got as far as the proof');
      // The loss report, if any, came in the same call as the refusal's log line: it is visible now.
      assert.ok(!te1.output.some((l) => /data connection lost/.test(l)), 'te-1 reported a data connection lost');
      const after = await client.status(jobId);
      assert.equal(after.state, 'running');
      assert.equal(after.attempt, before.attempt);
      assert.equal(after.restarts, 0);
      assert.ok(after.subtasks.every((s) => s.state === 'running'));
    } finally {
      await client.cancel(jobId);
      await client.waitForResult(jobId);
    }
  });

  it('roles - a client credential cannot register as a TaskExecutor nor send node or internal messages', async () => {
    const intruder = await ActorSystem.start({ clusterId, clientSecret: cluster.env['FLINKISH_CLIENT_SECRET']!, listen: false, name: 'intruder' });
    try {
      const masterRef = intruder.ref<any>(cluster.masterAddress, 'master');
      // The client protocol works...
      assert.ok(Array.isArray(await masterRef.ask({ type: 'master.job.list' })));
      // ...and nothing else does.
      const rm = intruder.ref<any>(cluster.masterAddress, 'resourcemanager');
      await assert.rejects(
        rm.ask({
          type: 'rm.te.register',
          taskExecutorId: 'te-evil',
          taskExecutor: intruder.ref(intruder.node, 'taskexecutor'),
          dataAddress: '127.0.0.1:1',
          slots: [{ index: 0, managedMemoryBytes: 1 << 20 }],
        }),
        { code: 'CLIENT_FORBIDDEN' },
      );
      await assert.rejects(masterRef.ask({ type: 'master.code.get', hash: 'x' }), { code: 'CLIENT_FORBIDDEN' });
      masterRef.tell({ type: 'master.leadership.revoked' });
      masterRef.tell({ type: 'master.stop' });
      // A client may not aim the Master's answer at a node either.
      masterRef.tell({ type: 'master.job.list', replyTo: intruder.ref(teControl(0).address, 'taskexecutor') });
      await cluster.master.waitForLine((l) => /refused a message from a client connection/.test(l) && /master\.stop/.test(l));
      const overview = await client.overview();
      assert.deepEqual(overview.taskExecutors.map((t) => t.id).sort(), ['te-1', 'te-2']);
      assert.ok(Array.isArray(await client.list()), 'the Master still leads and serves');
    } finally {
      await intruder.terminate();
    }
    // The client secret is no node credential, and clients have no business on TaskExecutors.
    const asNode = await RawPeer.connect(cluster.masterAddress);
    await assert.rejects(asNode.handshake(clusterId, cluster.env['FLINKISH_CLIENT_SECRET']!), /AUTH_FAILED/);
    const atTe = await RawPeer.connect(teControl(0).address);
    await assert.rejects(atTe.handshake(clusterId, cluster.env['FLINKISH_CLIENT_SECRET']!, { role: Role.Client }), /ROLE_REFUSED/);
    const atData = await RawPeer.connect(teData(0).address);
    await assert.rejects(atData.handshake(clusterId, cluster.env['FLINKISH_CLIENT_SECRET']!, { role: Role.Client, plane: Plane.Data }), /ROLE_REFUSED/);
  });

  it('roles - a raw client connection cannot watch actors or deliver envelopes other than tells', async () => {
    const peer = await RawPeer.connect(cluster.masterAddress);
    await peer.handshake(clusterId, cluster.env['FLINKISH_CLIENT_SECRET']!, { role: Role.Client });
    peer.sendEnvelope([EnvelopeKind.Watch, 'master']);
    await cluster.master.waitForLine((l) => /refused a message from a client connection/.test(l) && /envelope kind 2/.test(l));
    peer.destroy();
  });

  it('cli - a wrong client secret fails within 5 s with one line naming the peer and the cluster, and nothing on stdout', () => {
    const workDir = mkdtempSync(path.join(tmpdir(), 'flinkish-cli-auth-'));
    try {
      const { FLINKISH_SECRET: _s, FLINKISH_CLIENT_SECRET: _c, ...env } = process.env;
      const r = spawnSync(process.execPath, [path.join(distRoot, CLI), '--master', cluster.masterAddress, '--cluster-id', clusterId, 'list'], {
        encoding: 'utf8',
        env: { ...env, FLINKISH_CLIENT_SECRET: 'not-the-client-secret-0123', FLINKISH_WORK_DIR: workDir },
        timeout: 5000,
      });
      assert.equal(r.error, undefined, `the CLI did not exit within 5 s: ${r.stderr}`);
      assert.equal(r.status, 1);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, new RegExp(`AUTH_FAILED.*${cluster.masterAddress} of cluster '${clusterId}'.*client secret.*does not match`));
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});

describe('roles - cluster start writes the client secret for the CLI, and the node secret apart', function () {
  this.timeout(60_000);

  it('cli - cluster.json holds only the client secret, which is enough for a client; the node secret is a 0600 file', async () => {
    const workDir = mkdtempSync(path.join(tmpdir(), 'flinkish-local-'));
    const { FLINKISH_SECRET: _s, FLINKISH_CLIENT_SECRET: _c, ...clean } = process.env;
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [path.join(distRoot, CLI), ...args], { encoding: 'utf8', env: { ...clean, FLINKISH_WORK_DIR: workDir }, timeout: 30_000 });
    try {
      const start = cli('cluster', 'start', '--no-etcd', '-n', '1', '--slots', '1');
      assert.equal(start.status, 0, start.stderr);
      const state = JSON.parse(readFileSync(path.join(workDir, 'cluster.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(typeof state['clientSecret'], 'string');
      assert.equal(state['secret'], undefined, 'cluster.json must not hold the node secret');
      const nodeSecretFile = path.join(workDir, 'node.secret');
      assert.equal(statSync(nodeSecretFile).mode & 0o777, 0o600);
      assert.notEqual(readFileSync(nodeSecretFile, 'utf8').trim(), state['clientSecret']);
      // What the CLI reads from cluster.json is enough to be a client (ops-cli's branch runs the CLI itself here).
      const client = await ClusterClient.connect({ masterAddress: String(state['masterAddress']), clusterId: String(state['clusterId']), clientSecret: String(state['clientSecret']) });
      try {
        assert.deepEqual(await client.list(), []);
      } finally {
        await client.close();
      }
    } finally {
      cli('cluster', 'stop');
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});
