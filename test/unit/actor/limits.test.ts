import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { ActorSystem, type ActorRef, type ActorSystemOptions } from '../../../lib/index.js';
import { reply } from '../../../lib/actor/ref.js';
import { MAX_HANDSHAKING_CONNECTIONS } from '../../../lib/transport/transport.js';
import { echoMachine, type EchoMessage } from '../../fixtures/machines.js';
import { waitFor } from '../../support/wait.js';

const options = { clusterId: 'unit', secret: 'unit-test-secret-123' };
/** Loopback addresses on a port nobody listens on. */
const nowhere = (i: number) => `127.77.0.${i}:9`;

describe('actor - bounded state for peers', () => {
  const systems: ActorSystem[] = [];
  const start = async (extra: Partial<ActorSystemOptions> = {}) => {
    const system = await ActorSystem.start({ ...options, ...extra });
    systems.push(system);
    return system;
  };
  afterEach(async () => {
    await Promise.all(systems.splice(0).map((s) => s.terminate()));
  });

  it('forgets a peer once it gives up on it, and reports what it held as dead letters', async () => {
    const system = await start({ reconnect: { initialDelayMs: 10, maxDelayMs: 20, giveUpAfterMs: 100 } });
    const dead: string[] = [];
    system.events.on('dead-letter', (letter) => dead.push(letter.reason));
    system.ref(nowhere(1), 'x').tell({ type: 'hello' });
    assert.equal(system.associations, 1);
    await waitFor('the peer forgotten', () => system.associations === 0);
    assert.equal(dead.length, 1);
  });

  it('dials at most maxUnconnectedPeers peers; a reply beyond that is a dead letter, not an error in the actor', async () => {
    const system = await start({ maxUnconnectedPeers: 2 });
    system.ref(nowhere(1), 'x').tell({ type: 'a' });
    system.ref(nowhere(2), 'x').tell({ type: 'b' });
    assert.throws(() => system.ref(nowhere(3), 'x').tell({ type: 'c' }), { code: 'PEER_UNREACHABLE' });
    const dead: string[] = [];
    system.events.on('dead-letter', (letter) => dead.push(letter.target));
    assert.doesNotThrow(() => reply(system.ref<string>(nowhere(4), '$ask/1'), 'late'));
    assert.deepEqual(dead, [`$ask/1@${nowhere(4)}`]);
  });

  it('bounds pending asks per peer and in total', async () => {
    const server = await start();
    server.spawn('echo', echoMachine);
    const client = await start({ listen: false, maxPendingAsks: 3, maxPendingAsksPerPeer: 2 });
    const echo: ActorRef<EchoMessage> = client.ref(server.node, 'echo');
    const silent = [echo.ask({ type: 'ignore' }, { timeoutMs: 300 }), echo.ask({ type: 'ignore' }, { timeoutMs: 300 })];
    await assert.rejects(echo.ask({ type: 'ignore' }, { timeoutMs: 2000 }), { code: 'TOO_MANY_PENDING_ASKS' });
    const local = client.spawn('echo', echoMachine);
    const third = local.ask({ type: 'ignore' }, { timeoutMs: 300 });
    await assert.rejects(local.ask({ type: 'echo', payload: 1 }, { timeoutMs: 2000 }), { code: 'TOO_MANY_PENDING_ASKS' });
    // Once they time out, there is room again.
    await Promise.allSettled([...silent, third]);
    assert.equal(await echo.ask({ type: 'echo', payload: 2 }, { timeoutMs: 2000 }), 2);
  });

  it('closes a new connection at once while MAX_HANDSHAKING_CONNECTIONS strangers sit in their handshake', async () => {
    const server = await start({ handshakeTimeoutMs: 30_000 });
    const [host, port] = server.node.split(':') as [string, string];
    const sockets: Socket[] = [];
    const closed = new Set<Socket>();
    try {
      for (let i = 0; i <= MAX_HANDSHAKING_CONNECTIONS; i++) {
        const socket = connect({ host, port: Number(port) });
        socket.on('close', () => closed.add(socket)).on('error', () => undefined);
        socket.resume();
        sockets.push(socket);
        await once(socket, 'connect');
      }
      const extra = sockets[sockets.length - 1]!;
      await waitFor('the extra connection closed', () => closed.has(extra));
      assert.equal(closed.size, 1, 'the others are still in their handshake');
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  it('refuses at the sender a message above what another node accepts, and the connection carries on', async () => {
    const server = await start({ maxInboundFrameBytes: 64 * 1024 });
    server.spawn('echo', echoMachine);
    const sender = await start({ maxInboundFrameBytes: 64 * 1024 });
    const echo: ActorRef<EchoMessage> = sender.ref(server.node, 'echo');
    assert.equal(await echo.ask({ type: 'echo', payload: 'small' }, { timeoutMs: 2000 }), 'small');
    await assert.rejects(echo.ask({ type: 'echo', payload: 'x'.repeat(100 * 1024) }, { timeoutMs: 2000 }), { code: 'FRAME_TOO_LARGE' });
    assert.equal(await echo.ask({ type: 'echo', payload: 'again' }, { timeoutMs: 2000 }), 'again');
  });
});
