import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ActorSystem } from '../../lib/index.js';
import { EnvelopeKind } from '../../lib/transport/protocol.js';
import type { CounterMessage, EchoMessage } from '../fixtures/machines.js';
import { killAll, type Proc } from '../support/launcher.js';
import { startActorNode, startLocalSystem, testCluster } from '../support/actor-nodes.js';
import { RawPeer } from '../support/raw-peer.js';
import { waitFor } from '../support/wait.js';

describe('transport - bad input and refused peers', function () {
  this.timeout(30_000);
  let system: ActorSystem;
  let b: Proc & { node: string };

  before(async () => {
    b = await startActorNode({}, 'node-b');
  });
  beforeEach(async () => {
    system = await startLocalSystem();
  });
  afterEach(() => system.terminate());
  after(() => killAll());

  /** After each bad peer, the node must still be alive and serving. */
  async function assertStillServing(): Promise<void> {
    assert.ok(b.running, 'the node process must survive bad input');
    assert.deepEqual(await system.ref<EchoMessage>(b.node, 'echo').ask({ type: 'echo', payload: 'ok' }), 'ok');
  }

  async function assertLogged(pattern: RegExp): Promise<void> {
    await b.waitForLine((line) => pattern.test(line), 5000);
  }

  it('refuses a peer with the wrong secret at once, without retrying, and logs it', async () => {
    const intruder = await startLocalSystem({ secret: 'not-the-cluster-secret' });
    try {
      const echo = intruder.ref<EchoMessage>(b.node, 'echo');
      await assert.rejects(echo.ask({ type: 'echo', payload: 1 }, { timeoutMs: 5000 }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'AUTH_FAILED');
        assert.match(err.message, new RegExp(`${b.node} of cluster '${testCluster.clusterId}'.*does not match`));
        return true;
      });
      // New sends fail with the same code at once: no redial as if the peer were down.
      assert.throws(() => echo.tell({ type: 'echo', payload: 2, replyTo: echo as never }), { code: 'AUTH_FAILED' });
      await assertLogged(/AUTH_FAILED/);
    } finally {
      await intruder.terminate();
    }
    await assertStillServing();
  });

  it('refuses a peer of another cluster', async () => {
    const stranger = await startLocalSystem({ clusterId: 'another-cluster' });
    try {
      await assert.rejects(stranger.ref<EchoMessage>(b.node, 'echo').ask({ type: 'echo', payload: 1 }, { timeoutMs: 5000 }), {
        code: 'CLUSTER_MISMATCH',
      });
      await assertLogged(/CLUSTER_MISMATCH/);
    } finally {
      await stranger.terminate();
    }
    await assertStillServing();
  });

  it('closes a connection that sends garbage instead of a handshake', async () => {
    const peer = await RawPeer.connect(b.node);
    peer.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await peer.waitClosed();
    await assertStillServing();
  });

  it('closes an authenticated connection that sends a malformed frame', async () => {
    const peer = await RawPeer.connect(b.node);
    await peer.handshake(testCluster.clusterId, testCluster.secret);
    peer.write(Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1])); // 0xc1 is never valid MessagePack
    await peer.waitClosed();
    await assertLogged(/malformed frame/);
    await assertStillServing();
  });

  it('closes an authenticated connection that announces an oversized frame', async () => {
    const peer = await RawPeer.connect(b.node);
    await peer.handshake(testCluster.clusterId, testCluster.secret);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(0x7fffffff);
    peer.write(header);
    await peer.waitClosed();
    await assertLogged(/exceeds the limit/);
    await assertStillServing();
  });

  it('closes an authenticated connection that sends an unknown message type', async () => {
    const peer = await RawPeer.connect(b.node);
    await peer.handshake(testCluster.clusterId, testCluster.secret);
    peer.sendEnvelope([99, 'counter', { type: 'inc' }]);
    await peer.waitClosed();
    await assertLogged(/unknown message type 99/);
    await assertStillServing();
  });

  it('delivers a well-formed envelope from a hand-driven peer (the raw peer is a fair test)', async () => {
    const peer = await RawPeer.connect(b.node);
    await peer.handshake(testCluster.clusterId, testCluster.secret);
    const counter = system.ref<CounterMessage>(b.node, 'counter');
    const before = await counter.ask({ type: 'get' });
    peer.sendEnvelope([EnvelopeKind.Tell, 'counter', { type: 'inc', by: 3 }]);
    await waitFor('the raw tell', async () => (await counter.ask({ type: 'get' })) === before + 3);
    peer.destroy();
  });

  it('refuses to send a message larger than a frame may be, telling the sender', async () => {
    const small = await startLocalSystem({ maxFrameBytes: 4096, sendQueueBytes: 1 << 20 });
    try {
      const echo = small.ref<EchoMessage>(b.node, 'echo');
      assert.throws(() => echo.tell({ type: 'echo', payload: 'x'.repeat(10_000), replyTo: echo as never }), {
        code: 'FRAME_TOO_LARGE',
      });
    } finally {
      await small.terminate();
    }
  });
});

describe('transport - backpressure', function () {
  this.timeout(30_000);
  after(() => killAll());

  it('bounds the send queue to a paused peer: tell throws, send waits then fails', async () => {
    const b = await startActorNode({ HEARTBEAT_TIMEOUT_MS: '20000' }, 'node-b');
    const system = await startLocalSystem({ maxFrameBytes: 64 * 1024, sendQueueBytes: 1 << 20, heartbeatTimeoutMs: 20_000 });
    try {
      const counter = system.ref<CounterMessage>(b.node, 'counter');
      await counter.ask({ type: 'get' });
      await b.pause();
      const payload = { type: 'inc' as const, by: 1, pad: 'x'.repeat(1000) };
      let sent = 0;
      await assert.rejects(
        (async () => {
          // Yield now and then so that batches reach the socket and the kernel buffers fill.
          for (;;) {
            for (let i = 0; i < 100; i++, sent++) counter.tell(payload);
            await new Promise((resolve) => setImmediate(resolve));
          }
        })(),
        { code: 'SEND_QUEUE_FULL' },
      );
      const heapMb = process.memoryUsage().heapUsed / 1e6;
      assert.ok(sent < 50_000, `the queue must fill: sent ${sent}`);
      await assert.rejects(counter.send(payload, { timeoutMs: 200 }), { code: 'SEND_QUEUE_FULL' });
      b.resume();
      // Once the peer reads again, waiting sends go through and every accepted message arrives.
      await counter.send({ type: 'inc', by: 1 }, { timeoutMs: 10_000 });
      const total = await waitFor('everything to arrive', async () => {
        const n = await counter.ask({ type: 'get' }, { timeoutMs: 10_000 });
        return n === sent + 1 ? n : undefined;
      });
      assert.equal(total, sent + 1);
      assert.ok(heapMb < 500, `heap stayed bounded (${heapMb} MB)`);
    } finally {
      await system.terminate();
    }
  });
});

describe('transport - TLS', function () {
  this.timeout(30_000);
  let dir: string;
  after(async () => {
    await killAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  }

  function makeCerts(): void {
    dir = mkdtempSync(path.join(tmpdir(), 'flinkish-tls-'));
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
    writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    for (const name of ['node', 'rogue']) {
      openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    }
    openssl('x509', '-req', '-in', 'node.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'ext.cnf', '-out', 'node.crt');
    // The rogue certificate is self-signed: not from the cluster's CA.
    openssl('x509', '-req', '-in', 'rogue.csr', '-signkey', 'rogue.key', '-days', '1', '-extfile', 'ext.cnf', '-out', 'rogue.crt');
  }

  it('talks over mutual TLS, and refuses a peer whose certificate the CA did not sign', async () => {
    makeCerts();
    const b = await startActorNode({ TLS_DIR: dir }, 'tls-node');
    const read = (f: string) => readFileSync(path.join(dir, f));
    const system = await startLocalSystem({ tls: { cert: read('node.crt'), key: read('node.key'), ca: read('ca.crt') } });
    const rogue = await startLocalSystem({ tls: { cert: read('rogue.crt'), key: read('rogue.key'), ca: read('ca.crt') } });
    const plain = await startLocalSystem();
    try {
      assert.equal(await system.ref<EchoMessage>(b.node, 'echo').ask({ type: 'echo', payload: 'over tls' }), 'over tls');
      await assert.rejects(rogue.ref<EchoMessage>(b.node, 'echo').ask({ type: 'echo', payload: 1 }, { timeoutMs: 5000 }), {
        code: 'PEER_UNREACHABLE',
      });
      await assert.rejects(plain.ref<EchoMessage>(b.node, 'echo').ask({ type: 'echo', payload: 1 }, { timeoutMs: 3000 }));
      await b.waitForLine((line) => /TLS handshake refused/.test(line));
      assert.equal(await system.ref<EchoMessage>(b.node, 'echo').ask({ type: 'echo', payload: 'still' }), 'still');
    } finally {
      await Promise.all([system.terminate(), rogue.terminate(), plain.terminate()]);
    }
  });
});
