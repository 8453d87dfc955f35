/**
 * The real TCP transports on a simulated clock: their heartbeats, heartbeat timeouts and idle
 * timeouts run on the clock they are given, so that a test decides when they fire. Real sockets
 * on loopback; only time is simulated. Each test ends in milliseconds of real time although the
 * timeouts it crosses are seconds long.
 */
import assert from 'node:assert/strict';
import { ActorSystem } from '../../../lib/actor/system.js';
import type { PeerLossReason } from '../../../lib/transport/transport.js';
import { createLogger } from '../../../lib/logging.js';
import { DataTransport } from '../../../lib/network/data-transport.js';
import { Plane } from '../../../lib/transport/handshake.js';
import { SimulatedClock } from '../../../lib/util/simulated-clock.js';
import { RawPeer } from '../../support/raw-peer.js';
import { waitFor } from '../../support/wait.js';

const secret = 'simulated-time-secret-0123';
const HEARTBEAT_MS = 1000;
const HEARTBEAT_TIMEOUT_MS = 5000;

describe('transport - timers on a simulated clock', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  it('declares a peer lost at the heartbeat timeout of its own clock, not before, and not on real time', async () => {
    // Each system has its own clock: only A's moves, so B (whose heartbeats are due on its clock) stays silent.
    const clockA = new SimulatedClock();
    const clockB = new SimulatedClock();
    const settings = { clusterId: 'sim-time', secret, host: '127.0.0.1', heartbeatIntervalMs: HEARTBEAT_MS, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS };
    const a = await ActorSystem.start({ ...settings, clock: clockA });
    const b = await ActorSystem.start({ ...settings, clock: clockB });
    cleanups.push(() => a.terminate(), () => b.terminate());
    const up: string[] = [];
    const down: Array<{ node: string; reason: PeerLossReason }> = [];
    a.events.on('node.up', (node) => up.push(node));
    a.events.on('node.down', (node, reason) => down.push({ node, reason }));

    a.ref(b.node, 'anybody').tell({ type: 'hello' });
    await waitFor('the connection from A to B open', () => up.includes(b.node));
    const openedAt = Date.now();

    // Silence of exactly the timeout is still tolerated (the tick compares with >).
    for (let t = 0; t < HEARTBEAT_TIMEOUT_MS; t += HEARTBEAT_MS) await clockA.advance(HEARTBEAT_MS);
    assert.deepEqual(down, [], 'no loss while the silence has not passed the timeout');

    await clockA.advance(HEARTBEAT_MS);
    assert.deepEqual(down, [{ node: b.node, reason: 'heartbeat-timeout' }]);
    assert.ok(Date.now() - openedAt < HEARTBEAT_TIMEOUT_MS, 'it was simulated time that passed, not real time');
  });

  it('a data connection heartbeats on its clock and closes at the idle timeout of that clock', async () => {
    const clock = new SimulatedClock();
    const idleTimeoutMs = 10_000;
    const transport = new DataTransport({
      node: 'te-b',
      host: '127.0.0.1',
      clusterId: 'sim-time',
      secret,
      log: createLogger({ level: 'silent' }),
      onMessage: () => undefined,
      onPeerLost: () => undefined,
      heartbeatIntervalMs: HEARTBEAT_MS,
      idleTimeoutMs,
      clock,
    });
    cleanups.push(() => transport.stop());
    const peer = await RawPeer.connect(await transport.start());
    cleanups.push(async () => peer.destroy());
    await peer.handshake('sim-time', secret, { plane: Plane.Data });
    const openedAt = Date.now();
    const heartbeats = (): number => peer.seen.filter((frame) => frame === DATA_HEARTBEAT_KIND).length;

    // One heartbeat per interval of the clock, and none without it moving.
    await clock.settle();
    assert.equal(heartbeats(), 0);
    const ticks = idleTimeoutMs / HEARTBEAT_MS - 1;
    for (let i = 0; i < ticks; i++) await clock.advance(HEARTBEAT_MS);
    // The heartbeat of the last tick arrived: the connection was open after it, at 9 s of silence.
    await waitFor(`${ticks} heartbeats at the silent peer`, () => heartbeats() === ticks);
    assert.equal(peer.closed, false);

    // At 10 s the silence equals the timeout (kept); at 11 s it exceeds it (closed).
    await clock.advance(2 * HEARTBEAT_MS);
    await peer.waitClosed(5000);
    assert.equal(heartbeats(), ticks + 1, 'the tick at the timeout heartbeats; the one past it closes instead');
    assert.ok(Date.now() - openedAt < idleTimeoutMs, 'it was simulated time that passed, not real time');
  });
});

/** A data heartbeat's frame is the single byte of its kind, which msgpack reads as that number (data-frames.ts). */
const DATA_HEARTBEAT_KIND = 5;
