/**
 * `flinkish agent` under attack, as a real process inside a namespace host (so that its
 * nftables table lives in a namespace the test owns): strangers and holders of the wrong
 * credential get nothing but a refusal; a verified drill may signal only flinkish processes of
 * the agent's host, install rules only against peer addresses, and send only the four requests;
 * oversized frames close the connection. The test process reaches the agent through a Unix
 * socket forwarded into the host (test/fixtures/unix-forward.ts).
 * Needs root, `ip` and `nft`: without them the `before` hook fails with the reason.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AgentErrorCode } from '../../scripts/agent/errors.js';
import { Plane, Role, makeHello } from '../../lib/transport/handshake.js';
import { encodeFrame } from '../../lib/transport/frame.js';
import { Packr } from 'msgpackr';
import { killAll, type Proc } from '../support/launcher.js';
import { useNetnsHosts, type NetnsHost } from '../support/netns-hosts.js';
import { RawPeer } from '../support/raw-peer.js';
import { waitFor } from '../support/wait.js';

const CLUSTER = `agent-test-${process.pid}`;
const SECRET = `agent-node-secret-${process.pid}-0123456789`;
const CLIENT_SECRET = `agent-client-secret-${process.pid}-0123456789`;
const packr = new Packr({ useRecords: false });

type Reply = { t: string; id: number | null; code?: string; message?: string; processes?: Array<{ pid: number; startTicks: string; role: string; listening: string[] }>; removed?: number };

/** The fields of /proc/PID/stat after the command name: [0] the state, [19] the start time. */
const statFields = (pid: number): string[] => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
};
const startTicks = (pid: number): string => statFields(pid)[19]!;
const procState = (pid: number): string => statFields(pid)[0]!;

describe('agent - the fault agent refuses everything but its four requests from a verified drill', function () {
  this.timeout(60_000);
  const hosts = useNetnsHosts(2);
  const dir = mkdtempSync(path.join(tmpdir(), 'agent-test-'));
  const socketPath = path.join(dir, 'agent.sock');
  let h0: NetnsHost;
  let h1: NetnsHost;
  let agent: Proc;
  let te: Proc;
  let sleeper: Proc;
  const peers: RawPeer[] = [];

  before(async function () {
    this.timeout(60_000);
    [h0, h1] = hosts.net.hosts as [NetnsHost, NetnsHost];
    const env = { FLINKISH_SECRET: SECRET, FLINKISH_CLUSTER_ID: CLUSTER };
    agent = await h0.launch('scripts/cli.js', { args: ['agent', '--host', h0.address, '--port', '0'], env, name: 'agent' });
    await h0.launch('test/fixtures/unix-forward.js', { args: ['--listen', socketPath, '--to', String(agent.ready['node'])], name: 'forward' });
    // A real flinkish process of the host (its Master is nowhere: it keeps trying to register).
    te = await h0.launch('scripts/cli.js', {
      args: ['taskexecutor', '--host', h0.address, '--work-dir', h0.dataDir, '--id', 'te-victim'],
      env: { ...env, FLINKISH_MASTER_ADDRESS: `${h1.address}:1`, FLINKISH_METRICS_PORT: '-1' },
      name: 'taskexecutor',
    });
    // Any other process of the host: `sh` execs `sleep` in place, so the pid is the sleep's.
    sleeper = await h0.launchCommand('sh', ['-c', 'echo started; exec sleep 600'], { readyWhen: (line) => line === 'started', name: 'sleep' });
    await waitFor('sh to exec sleep', () => readFileSync(`/proc/${sleeper.pid}/cmdline`, 'utf8').startsWith('sleep'));
  });

  afterEach(() => {
    for (const peer of peers.splice(0)) peer.destroy();
  });

  after(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  async function verified(): Promise<RawPeer> {
    const peer = await RawPeer.connectPath(socketPath);
    peers.push(peer);
    await peer.handshake(CLUSTER, SECRET, { plane: Plane.Agent, node: 'drill-test' });
    return peer;
  }

  let nextId = 1;
  async function ask(peer: RawPeer, body: Record<string, unknown>): Promise<Reply> {
    const id = nextId++;
    peer.sendEnvelope({ ...body, id });
    const reply = (await peer.nextFrame()) as Reply;
    assert.equal(reply.id, id, JSON.stringify(reply));
    return reply;
  }

  async function raw(): Promise<RawPeer> {
    const peer = await RawPeer.connectPath(socketPath);
    peers.push(peer);
    return peer;
  }

  it('gives a peer without the node secret nothing but a refusal: wrong secret, client secret, control-plane key, no handshake', async () => {
    const wrong = await raw();
    await assert.rejects(wrong.handshake(CLUSTER, 'not-the-secret-0123456789', { plane: Plane.Agent }), /AUTH_FAILED/);
    await wrong.waitClosed();
    assert.deepEqual(wrong.macsSeen(), [], 'no MAC for an unverified dialer');

    const client = await raw();
    await assert.rejects(client.handshake(CLUSTER, CLIENT_SECRET, { plane: Plane.Agent, role: Role.Client }), /ROLE_REFUSED/);
    // The node secret's control-plane key is another key: it proves nothing here.
    const control = await raw();
    await assert.rejects(control.handshake(CLUSTER, SECRET, { plane: Plane.Control }), /PLANE_MISMATCH/);

    const stranger = await raw();
    stranger.sendEnvelope({ t: 'list', id: 1 });
    const hello = stranger.asHello(await stranger.nextFrame());
    assert.equal(hello.plane, Plane.Agent);
    assert.deepEqual((await stranger.nextFrame()) as { t: string; code: string }, { t: 'refuse', code: 'BAD_HELLO', reason: 'first frame is not a valid hello' });
    await stranger.waitClosed();
    for (const peer of [wrong, client, control, stranger]) {
      assert.ok(!peer.seen.some((f) => (f as Reply).t === 'processes'), 'no process list without a verified handshake');
    }
  });

  it('signals only verified flinkish processes of its host: never a sleep, itself, the test, or a reused pid', async () => {
    const peer = await verified();
    const listed = await ask(peer, { t: 'list' });
    assert.equal(listed.t, 'processes');
    const pids = listed.processes!.map((p) => p.pid);
    assert.deepEqual(listed.processes!.map((p) => [p.pid, p.role]), [[te.pid, 'taskexecutor']], 'only the TaskExecutor is a flinkish process of the host');
    assert.ok(listed.processes![0]!.listening.includes(String(te.ready['node'])), `its RPC address ${String(te.ready['node'])} in ${listed.processes![0]!.listening.join(', ')}`);
    assert.ok(!pids.includes(agent.pid) && !pids.includes(sleeper.pid));

    for (const pid of [sleeper.pid, agent.pid, process.pid]) {
      const reply = await ask(peer, { t: 'signal', pid, startTicks: startTicks(pid), signal: 'SIGKILL' });
      assert.equal(reply.code, AgentErrorCode.NotFlinkish, JSON.stringify(reply));
    }
    assert.equal((await ask(peer, { t: 'signal', pid: 1, startTicks: startTicks(1), signal: 'SIGKILL' })).code, AgentErrorCode.BadRequest);
    assert.ok(sleeper.running && agent.running, 'the refused targets live');
    // The TaskExecutor's pid with another start time: a pid reused since the list.
    const stale = String(Number(startTicks(te.pid)) + 1);
    assert.equal((await ask(peer, { t: 'signal', pid: te.pid, startTicks: stale, signal: 'SIGKILL' })).code, AgentErrorCode.NotFlinkish);
    assert.equal((await ask(peer, { t: 'signal', pid: te.pid, startTicks: startTicks(te.pid), signal: 'SIGTERM' })).code, AgentErrorCode.BadRequest);
    assert.ok(te.running);

    // The real thing, so that the refusals above are refusals and not an agent that can do nothing.
    const { startTicks: ticks } = listed.processes![0]!;
    assert.equal((await ask(peer, { t: 'signal', pid: te.pid, startTicks: ticks, signal: 'SIGSTOP' })).t, 'signaled');
    await waitFor('the TaskExecutor stopped', () => procState(te.pid) === 'T');
    assert.equal((await ask(peer, { t: 'signal', pid: te.pid, startTicks: ticks, signal: 'SIGCONT' })).t, 'signaled');
    await waitFor('the TaskExecutor running again', () => procState(te.pid) !== 'T');
    assert.equal((await ask(peer, { t: 'signal', pid: te.pid, startTicks: ticks, signal: 'SIGKILL' })).t, 'signaled');
    await te.waitForExit();
    assert.equal(te.signal, 'SIGKILL');
  });

  it('answers unknown and malformed requests with a code, and closes a connection that sends an oversized frame', async () => {
    const peer = await verified();
    const unknown = await ask(peer, { t: 'exec', command: 'rm -rf /' });
    assert.deepEqual([unknown.t, unknown.code], ['error', AgentErrorCode.UnknownRequest]);
    assert.equal((await ask(peer, { t: 'list', all: true })).code, AgentErrorCode.BadRequest);
    assert.equal((await ask(peer, { t: 'partition', peer: h1.address, direction: 'sideways' })).code, AgentErrorCode.BadRequest);
    peer.sendEnvelope([1, 'agent', { t: 'list' }]); // a control-plane envelope
    assert.equal(((await peer.nextFrame()) as Reply).code, AgentErrorCode.UnknownRequest);

    // 64 KiB is the most a request may be: the announced length alone closes the connection.
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1024 * 1024);
    peer.write(header);
    await peer.waitClosed();
    // Before the handshake the bound is 4 KiB.
    const early = await raw();
    early.write(encodeFrame(packr.pack(makeHello(CLUSTER, Plane.Agent, Role.Node, 'x'.repeat(5000), 'u'))));
    await early.waitClosed();
    // The agent is unharmed.
    assert.equal((await ask(await verified(), { t: 'list' })).t, 'processes');
  });

  it('cuts only peer addresses, drops their traffic until healed, and keeps its own port reachable', async () => {
    const peer = await verified();
    for (const bad of ['127.0.0.1', '0.0.0.0', 'h1.example', '::1']) {
      assert.equal((await ask(peer, { t: 'partition', peer: bad, direction: 'both' })).code, AgentErrorCode.BadPeer, bad);
    }
    const server = await h0.launch('test/fixtures/net-probe.js', { args: ['serve'], name: 'serve' });
    const probe = async (port: number): Promise<boolean> => {
      const p = await h1.launch('test/fixtures/net-probe.js', { args: ['connect', '--host', h0.address, '--port', String(port), '--timeout-ms', '1000'], name: 'probe' });
      await p.waitForExit();
      return p.ready['connected'] === true;
    };
    assert.equal(await probe(Number(server.ready['tcpPort'])), true, 'reachable before the cut');
    assert.equal((await ask(peer, { t: 'partition', peer: h1.address, direction: 'from', expiresInMs: 60_000 })).t, 'partitioned');
    assert.match(await h0.exec('nft', ['list', 'set', 'inet', 'flinkish_agent', 'from4']), new RegExp(h1.address.replace(/\./g, '\\.')));
    assert.equal(await probe(Number(server.ready['tcpPort'])), false, 'cut');
    // A TCP connection to the agent's own port (which the probe cannot speak, so it only connects).
    const session = await h1.launch('test/fixtures/net-probe.js', { args: ['session', '--host', h0.address, '--port', String(agent.ready['node']).split(':')[1]!], name: 'session' });
    assert.equal(session.ready['connected'], true, "the agent's port passes");
    await session.stop();
    const healed = await ask(peer, { t: 'heal' });
    assert.deepEqual([healed.t, healed.removed], ['healed', 1]);
    assert.equal(await probe(Number(server.ready['tcpPort'])), true, 'healed');
  });

  it('removes its table when it stops', async () => {
    assert.match(await h0.exec('nft', ['list', 'tables']), /flinkish_agent/);
    await agent.stop();
    assert.equal(agent.exitCode, 0);
    assert.doesNotMatch(await h0.exec('nft', ['list', 'tables']), /flinkish_agent/);
  });
});
