import assert from 'node:assert/strict';
import net from 'node:net';
import { createActor } from 'xstate';
import { LinkLoss, TAKEOVER_LIMITS, takeoverMachine, type LinkEvent, type TakeoverServices } from '../../../actors/master/takeover.js';
import { DeadTermRevocation } from '../../../lib/ha/etcd-election.js';
import { ProbeOutcome, probeAddress } from '../../../lib/ha/leader-death.js';
import type { LeaderInfo } from '../../../lib/ha/types.js';
import { createLogger } from '../../../lib/logging.js';
import { realClock } from '../../../lib/util/clock.js';
import { SimulatedClock } from '../../../lib/util/simulated-clock.js';

const LEADER: LeaderInfo = { address: '127.0.0.1:7001', sessionId: '00000000000000000042', rest: null, instance: 'leader-uid', leaseId: '12345' };

/**
 * The process side of a standby's takeover, scripted: the test plays the leader record, the
 * link's events and the probe's answers, and sees which terms would be revoked.
 */
class Scene implements TakeoverServices {
  readonly instance = 'standby-uid';
  leaderListener: ((leader: LeaderInfo | null) => void) | null = null;
  linkListener: ((event: LinkEvent) => void) | null = null;
  links: string[] = [];
  probes: string[] = [];
  probeAnswers: ProbeOutcome[] = [];
  revokes: Array<{ sessionId: string; leaseId: string }> = [];
  revokeFailures = 0;

  followLeader(listener: (leader: LeaderInfo | null) => void): () => void {
    this.leaderListener = listener;
    return () => (this.leaderListener = null);
  }
  link(node: string, listener: (event: LinkEvent) => void): () => void {
    this.links.push(node);
    this.linkListener = listener;
    return () => {
      if (this.linkListener === listener) this.linkListener = null;
    };
  }
  probe(address: string): Promise<ProbeOutcome> {
    this.probes.push(address);
    return Promise.resolve(this.probeAnswers.shift() ?? ProbeOutcome.NoAnswer);
  }
  revokeDeadTerm(leader: { sessionId: string; leaseId: string }): Promise<DeadTermRevocation> {
    this.revokes.push(leader);
    if (this.revokeFailures-- > 0) return Promise.reject(new Error('etcd unavailable'));
    return Promise.resolve(DeadTermRevocation.Revoked);
  }
  emit(event: LinkEvent): void {
    assert.ok(this.linkListener, 'a link is open');
    this.linkListener(event);
  }
}

describe('master takeover - proof that the leader process is dead', () => {
  let clock: SimulatedClock;
  let scene: Scene;
  const log = createLogger({ name: 'takeover-test', level: 'silent' });

  function start(leader: LeaderInfo | null = LEADER) {
    const actor = createActor(takeoverMachine, { input: { services: scene, log }, clock });
    actor.start();
    scene.leaderListener!(leader);
    return actor;
  }
  const state = (actor: ReturnType<typeof start>) => JSON.stringify(actor.getSnapshot().value);

  beforeEach(() => {
    clock = new SimulatedClock();
    scene = new Scene();
  });

  it('revokes the exact term it saw die when its verified connection closed and the address refuses', async () => {
    const actor = start();
    assert.deepEqual(scene.links, [LEADER.address]);
    scene.emit({ kind: 'up', instance: 'leader-uid' });
    assert.match(state(actor), /linked/);
    scene.probeAnswers.push(ProbeOutcome.Refused);
    scene.emit({ kind: 'lost', loss: LinkLoss.Closed });
    await clock.settle();
    assert.deepEqual(scene.probes, [LEADER.address]);
    assert.deepEqual(scene.revokes, [{ sessionId: LEADER.sessionId, leaseId: LEADER.leaseId }]);
    actor.stop();
  });

  it('never probes on silence (a paused or partitioned leader): it links again and the lease decides', async () => {
    const actor = start();
    scene.emit({ kind: 'up', instance: 'leader-uid' });
    scene.emit({ kind: 'lost', loss: LinkLoss.Silent });
    assert.match(state(actor), /retryingLink/);
    await clock.advance(TAKEOVER_LIMITS.linkRetryMs);
    assert.equal(scene.links.length, 2);
    assert.deepEqual(scene.probes, []);
    assert.deepEqual(scene.revokes, []);
    actor.stop();
  });

  it('takes a close followed by a connect that succeeds as no proof when the same instance answers again', async () => {
    const actor = start();
    scene.emit({ kind: 'up', instance: 'leader-uid' });
    scene.probeAnswers.push(ProbeOutcome.Accepted);
    scene.emit({ kind: 'lost', loss: LinkLoss.Closed });
    await clock.settle();
    assert.match(state(actor), /relinking/);
    scene.emit({ kind: 'up', instance: 'leader-uid' });
    assert.match(state(actor), /linked/);
    assert.deepEqual(scene.revokes, []);
    actor.stop();
  });

  it('stays linked when the same process is verified again, and proves a replacement of it at the address', async () => {
    const actor = start();
    scene.emit({ kind: 'up', instance: 'leader-uid' });
    scene.emit({ kind: 'up', instance: 'leader-uid' });
    assert.match(state(actor), /linked/);
    scene.probeAnswers.push(ProbeOutcome.Accepted);
    scene.emit({ kind: 'up', instance: 'restarted-uid' });
    await clock.settle();
    assert.match(state(actor), /relinking/);
    scene.emit({ kind: 'up', instance: 'restarted-uid' });
    await clock.settle();
    assert.equal(scene.revokes.length, 1);
    actor.stop();
  });

  it('counts another instance answering at the address after the close as proof (a new process on that port)', async () => {
    const actor = start();
    scene.emit({ kind: 'up', instance: 'leader-uid' });
    scene.probeAnswers.push(ProbeOutcome.Accepted);
    scene.emit({ kind: 'lost', loss: LinkLoss.Closed });
    await clock.settle();
    scene.emit({ kind: 'up', instance: 'restarted-uid' });
    await clock.settle();
    assert.equal(scene.revokes.length, 1);
    actor.stop();
  });

  it('proves nothing about a term whose process it never reached: another instance at first contact, or dials that fail', async () => {
    const first = start();
    scene.emit({ kind: 'up', instance: 'someone-else' });
    assert.match(state(first), /idle/);
    first.stop();

    scene = new Scene();
    const second = start();
    for (let i = 0; i < TAKEOVER_LIMITS.linkAttempts; i++) {
      scene.emit({ kind: 'lost', loss: LinkLoss.Closed });
      await clock.advance(TAKEOVER_LIMITS.linkRetryMs);
    }
    assert.equal(scene.links.length, TAKEOVER_LIMITS.linkAttempts, 'dials are bounded');
    assert.match(state(second), /idle/);
    assert.deepEqual(scene.probes, []);
    assert.deepEqual(scene.revokes, []);
    second.stop();
  });

  it('does not revoke when the address does not answer after the close (a partition that drops packets)', async () => {
    const actor = start();
    scene.emit({ kind: 'up', instance: 'leader-uid' });
    scene.emit({ kind: 'lost', loss: LinkLoss.Closed });
    await clock.settle();
    assert.match(state(actor), /retryingLink/);
    assert.deepEqual(scene.revokes, []);
    actor.stop();
  });

  it('bounds close-and-accept rounds without a verified reconnect (a flapping link is no proof)', async () => {
    const actor = start();
    scene.emit({ kind: 'up', instance: 'leader-uid' });
    for (let i = 0; i < TAKEOVER_LIMITS.probeRounds; i++) scene.probeAnswers.push(ProbeOutcome.Accepted);
    scene.emit({ kind: 'lost', loss: LinkLoss.Closed });
    await clock.settle();
    for (let i = 1; i < TAKEOVER_LIMITS.probeRounds; i++) {
      scene.emit({ kind: 'lost', loss: LinkLoss.Closed });
      await clock.settle();
    }
    scene.emit({ kind: 'lost', loss: LinkLoss.Closed });
    assert.match(state(actor), /idle/);
    assert.equal(scene.probes.length, TAKEOVER_LIMITS.probeRounds);
    assert.deepEqual(scene.revokes, []);
    actor.stop();
  });

  it('watches no leader that is itself, has no published instance, or is none', () => {
    for (const leader of [{ ...LEADER, instance: 'standby-uid' }, { ...LEADER, instance: undefined }, null] as Array<LeaderInfo | null>) {
      scene = new Scene();
      const actor = start(leader);
      assert.deepEqual(scene.links, []);
      assert.match(state(actor), /idle/);
      actor.stop();
    }
  });

  it('retries a revocation etcd did not take a bounded number of times on the clock, then leaves it to the lease', async () => {
    const actor = start();
    scene.emit({ kind: 'up', instance: 'leader-uid' });
    scene.revokeFailures = 10;
    scene.probeAnswers.push(ProbeOutcome.Refused);
    scene.emit({ kind: 'lost', loss: LinkLoss.Closed });
    await clock.settle();
    assert.equal(scene.revokes.length, 1);
    await clock.advance(TAKEOVER_LIMITS.revokeRetryMs * TAKEOVER_LIMITS.revokeAttempts * 2);
    assert.equal(scene.revokes.length, TAKEOVER_LIMITS.revokeAttempts);
    assert.match(state(actor), /idle/);
    actor.stop();
  });

  it('follows a new leader afresh after a revocation (or any change of term)', async () => {
    const actor = start();
    scene.emit({ kind: 'up', instance: 'leader-uid' });
    scene.probeAnswers.push(ProbeOutcome.Refused);
    scene.emit({ kind: 'lost', loss: LinkLoss.Closed });
    await clock.settle();
    scene.leaderListener!({ ...LEADER, address: '127.0.0.1:7002', sessionId: '00000000000000000050', instance: 'next-uid', leaseId: '999' });
    assert.deepEqual(scene.links, [LEADER.address, '127.0.0.1:7002']);
    assert.match(state(actor), /linking/);
    actor.stop();
  });

  it('does nothing without takeover services (standalone)', () => {
    const actor = createActor(takeoverMachine, { input: { services: null, log }, clock });
    actor.start();
    assert.equal(actor.getSnapshot().value, 'off');
    actor.stop();
  });
});

describe('leader-death probe - what a connect to an address proves', () => {
  it('reports refused for a closed port and accepted for a listening one', async () => {
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      assert.equal(await probeAddress(`127.0.0.1:${port}`, 1000, realClock), ProbeOutcome.Accepted);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    assert.equal(await probeAddress(`127.0.0.1:${port}`, 1000, realClock), ProbeOutcome.Refused);
    assert.equal(await probeAddress('not an address', 1000, realClock), ProbeOutcome.NoAnswer);
    // A probe whose asker has gone proves nothing and holds no socket.
    assert.equal(await probeAddress(`127.0.0.1:${port}`, 1000, realClock, AbortSignal.abort()), ProbeOutcome.NoAnswer);
  });
});
