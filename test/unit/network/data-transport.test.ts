import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { createLogger } from '../../../lib/logging.js';
import { DataTransport } from '../../../lib/network/data-transport.js';
import type { DataMessage } from '../../../lib/network/messages.js';
import { RawPeer } from '../../support/raw-peer.js';
import { Plane } from '../../../lib/transport/handshake.js';
import { waitFor } from '../../support/wait.js';

const log = createLogger({ level: 'silent' });

function transport(node: string, secret: string, received: DataMessage[], lost: string[] = [], timeouts: Timeouts = {}): DataTransport {
  return new DataTransport({
    node,
    host: '127.0.0.1',
    clusterId: 'c',
    secret,
    log,
    onMessage: (m) => received.push(m),
    onPeerLost: (p) => lost.push(p),
    ...timeouts,
  });
}

type Timeouts = { handshakeTimeoutMs?: number; heartbeatIntervalMs?: number; idleTimeoutMs?: number };
const short: Timeouts = { handshakeTimeoutMs: 300, heartbeatIntervalMs: 50, idleTimeoutMs: 300 };

describe('network - data connections', () => {
  const open: DataTransport[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.stop()));
  });

  it('network - messages reach the peer in order over one authenticated connection, both ways', async () => {
    const atA: DataMessage[] = [];
    const atB: DataMessage[] = [];
    const a = transport('a', 'secret-0123456789', atA);
    const b = transport('b', 'secret-0123456789', atB);
    open.push(a, b);
    const [addrA, addrB] = await Promise.all([a.start(), b.start()]);
    for (let n = 1; n <= 100; n++) a.send({ taskExecutorId: 'b', dataAddress: addrB }, { t: 'credit', ch: 'x', n });
    await waitFor('100 credits at b', () => atB.length === 100);
    assert.deepEqual(atB.map((m) => (m.t === 'credit' ? m.n : -1)), Array.from({ length: 100 }, (_, i) => i + 1));
    b.send({ taskExecutorId: 'a', dataAddress: addrA }, { t: 'eop', ch: 'y' });
    await waitFor('eop at a', () => atA.length === 1);
  });

  it('network - a peer with another secret gets nothing through, and the sender learns the peer is lost', async () => {
    const atB: DataMessage[] = [];
    const lost: string[] = [];
    const a = transport('a', 'secret-0123456789', [], lost);
    const b = transport('b', 'other-secret-0123', atB);
    open.push(a, b);
    const addrB = await b.start();
    await a.start();
    a.send({ taskExecutorId: 'b', dataAddress: addrB }, { t: 'credit', ch: 'x', n: 1 });
    await waitFor('the connection to be refused', () => lost.includes('b'));
    assert.equal(atB.length, 0);
  });

  it('network - a bad frame closes the connection', async () => {
    const t = transport('a', 'secret-0123456789', []);
    open.push(t);
    const [host, port] = (await t.start()).split(':') as [string, string];
    const socket = connect({ host, port: Number(port) });
    await once(socket, 'connect');
    socket.resume(); // read (and drop) the server's hello, so that its close reaches us
    socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])); // a 4 GB frame during the handshake
    await once(socket, 'close');
  });

  it('network - closes an idle unauthenticated connection at the handshake timeout', async () => {
    const t = transport('a', 'secret-0123456789', [], [], short);
    open.push(t);
    const [host, port] = (await t.start()).split(':') as [string, string];
    const socket = connect({ host, port: Number(port) });
    await once(socket, 'connect');
    socket.resume();
    await once(socket, 'close');
  });

  it('network - closes an authenticated connection that stays silent, and keeps an idle one whose peer heartbeats', async () => {
    const atB: DataMessage[] = [];
    const lostAtA: string[] = [];
    const a = transport('a', 'secret-0123456789', [], lostAtA, short);
    const b = transport('b', 'secret-0123456789', atB, [], short);
    open.push(a, b);
    const [, addrB] = await Promise.all([a.start(), b.start()]);
    a.send({ taskExecutorId: 'b', dataAddress: addrB }, { t: 'credit', ch: 'x', n: 1 });
    await waitFor('the legitimate connection open', () => atB.length === 1);

    const silent = await RawPeer.connect(addrB);
    await silent.handshake('c', 'secret-0123456789', { plane: Plane.Data });
    await silent.waitClosed(5000);
    // By now the legitimate pair has been idle longer than the idle timeout too: heartbeats kept it.
    assert.deepEqual(lostAtA, []);
    a.send({ taskExecutorId: 'b', dataAddress: addrB }, { t: 'credit', ch: 'x', n: 2 });
    await waitFor('a message over the same connection', () => atB.length === 2);
    assert.deepEqual(lostAtA, []);
  });
});
