import assert from 'node:assert/strict';
import { setup } from 'xstate';
import { ActorSystem, type ActorRef } from '../../../lib/index.js';
import { SimulatedClock } from '../../../lib/util/simulated-clock.js';
import { every } from '../../../lib/util/clock.js';
import { echoMachine } from '../../fixtures/machines.js';

describe('util - simulated clock', () => {
  it('fires due timers in order of due time, then of arming, each at its own instant', async () => {
    const clock = new SimulatedClock(1000);
    const fired: Array<[string, number]> = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 20);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 10);
    clock.setTimeout(() => fired.push(['a2', clock.now()]), 10);
    const late = clock.setTimeout(() => fired.push(['never', clock.now()]), 15);
    clock.clearTimeout(late);
    await clock.advance(9);
    assert.deepEqual(fired, []);
    await clock.advance(11);
    assert.deepEqual(fired, [['a', 1010], ['a2', 1010], ['b', 1020]]);
    assert.equal(clock.now(), 1020);
    assert.equal(clock.pendingTimers, 0);
  });

  it('fires, within the same advance, timers armed by timers and by the promises they start', async () => {
    const clock = new SimulatedClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => {
      void Promise.resolve().then(() => clock.setTimeout(() => fired.push(clock.now()), 5));
    }, 5);
    await clock.advance(10);
    assert.deepEqual(fired, [10]);
    await assert.rejects(clock.advanceTo(3), RangeError);
  });

  it('every() repeats at each interval until stopped, also when stopped from inside a run; { unref } changes nothing here', async () => {
    const clock = new SimulatedClock(0);
    const runs: number[] = [];
    const stop = every(clock, 100, () => runs.push(clock.now()), { unref: true });
    await clock.advance(350);
    assert.deepEqual(runs, [100, 200, 300]);
    stop();
    stop();
    await clock.advance(500);
    assert.deepEqual(runs, [100, 200, 300]);
    assert.equal(clock.pendingTimers, 0);

    const inner: number[] = [];
    const stopInner: () => void = every(clock, 10, () => {
      inner.push(clock.now());
      if (inner.length === 2) stopInner();
    });
    await clock.advance(100);
    assert.deepEqual(inner, [860, 870]);
    assert.equal(clock.pendingTimers, 0);
  });

  it("runs an actor system's delayed transitions and ask timeouts on it, not on real time", async () => {
    const clock = new SimulatedClock();
    const system = await ActorSystem.start({ clusterId: 'unit', secret: 'unit-test-secret-123', listen: false, clock });
    try {
      const timer = system.spawn(
        'timer',
        setup({ types: { events: {} as { type: 'state'; replyTo: ActorRef<string> } } }).createMachine({
          initial: 'waiting',
          states: {
            waiting: { after: { 60_000: 'done' }, on: { state: { actions: ({ event }) => event.replyTo.tell('waiting') } } },
            done: { on: { state: { actions: ({ event }) => event.replyTo.tell('done') } } },
          },
        }),
      );
      const before = timer.ask({ type: 'state' });
      await clock.settle();
      assert.equal(await before, 'waiting');
      await clock.advance(60_000);
      const after = timer.ask({ type: 'state' });
      await clock.settle();
      assert.equal(await after, 'done');

      const echo = system.spawn('echo', echoMachine);
      let outcome: unknown = 'pending';
      echo.ask({ type: 'ignore' }, { timeoutMs: 5000 }).catch((err: { code?: string }) => (outcome = err.code));
      await clock.advance(4999);
      assert.equal(outcome, 'pending', 'an ask times out on the simulated clock only');
      await clock.advance(1);
      assert.equal(outcome, 'ASK_TIMEOUT');
    } finally {
      await system.terminate();
    }
  });
});
