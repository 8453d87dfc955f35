import assert from 'node:assert/strict';
import { assign, setup } from 'xstate';
import { ActorSystem, type ActorRef, type WatchNotice } from '../../../lib/index.js';
import { counterMachine, echoMachine } from '../../fixtures/machines.js';
import { waitFor } from '../../support/wait.js';
import { ActorCell, MAILBOX_HIGH_WATER } from '../../../lib/actor/cell.js';
import { ErrorCode, type RuntimeError } from '../../../lib/errors.js';

const options = { clusterId: 'unit', secret: 'unit-test-secret-123' };

describe('actor - local system', () => {
  let system: ActorSystem;
  beforeEach(async () => {
    system = await ActorSystem.start({ ...options, listen: false });
  });
  afterEach(() => system.terminate());

  it('delivers tells in order and answers asks', async () => {
    const counter = system.spawn('counter', counterMachine);
    for (let i = 0; i < 1000; i++) counter.tell({ type: 'inc' });
    counter.tell({ type: 'inc', by: 5 });
    assert.equal(await counter.ask({ type: 'get' }), 1005);
  });

  it('never runs an actor inside the sender call stack', () => {
    const counter = system.spawn('counter', counterMachine);
    counter.tell({ type: 'inc' });
    const snapshot = system.snapshotOf(counter) as { context: { n: number } };
    assert.equal(snapshot.context.n, 0);
  });

  it('rejects an ask with no reply with ASK_TIMEOUT', async () => {
    const echo = system.spawn('echo', echoMachine);
    await assert.rejects(echo.ask({ type: 'ignore' }, { timeoutMs: 50 }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ASK_TIMEOUT');
      assert.match(err.message, /ignore.*50 ms/);
      return true;
    });
  });

  it('with reportUnhandled, fails an ask its state does not accept at once with UNHANDLED_IN_STATE, and counts a dead letter', async () => {
    const echo = system.spawn('echo', echoMachine, { reportUnhandled: true });
    const letters: Array<{ reason: string }> = [];
    system.events.on('dead-letter', (letter) => letters.push(letter));
    await assert.rejects(echo.ask({ type: 'ignore' }, { timeoutMs: 60_000 }), (err: Error & { code?: string; details?: Record<string, unknown> }) => {
      assert.equal(err.code, 'UNHANDLED_IN_STATE');
      assert.deepEqual(err.details, { actor: `echo@${system.node}`, state: '(root)', messageType: 'ignore' });
      return true;
    });
    assert.equal(system.deadLetters, 1);
    assert.match(letters[0]!.reason, /not accepted in state/);
    assert.equal(await echo.ask({ type: 'echo', payload: 7 }), 7, 'the actor goes on');
  });

  it('fails an ask to an unknown actor at once with DEAD_LETTER and counts it', async () => {
    const started = Date.now();
    const ghost = system.ref<{ type: 'get'; replyTo: ActorRef<number> }>(system.node, 'ghost');
    await assert.rejects(ghost.ask({ type: 'get' }, { timeoutMs: 5000 }), { code: 'DEAD_LETTER' });
    assert.ok(Date.now() - started < 1000, 'the asker must not wait for its timeout');
    assert.equal(system.deadLetters, 1);
  });

  it('passes an error reply to the asker with its code', async () => {
    const counter = system.spawn('counter', counterMachine);
    await assert.rejects(counter.ask({ type: 'fail-ask' }), { code: 'TEST_FAILURE', message: 'asked to fail' });
  });

  it('restarts a failing actor with fresh state and tells its watchers', async () => {
    const counter = system.spawn('counter', counterMachine);
    const notices: WatchNotice[] = [];
    system.watch(counter, (n) => notices.push(n));
    counter.tell({ type: 'inc' });
    counter.tell({ type: 'crash' });
    counter.tell({ type: 'inc' });
    assert.equal(await counter.ask({ type: 'get' }), 1, 'the message after the crash reaches the restarted actor');
    assert.deepEqual(
      notices.map((n) => n.type),
      ['actor.restarted'],
    );
  });

  it('stops an actor that fails more often than its policy allows, and tells its watchers why', async () => {
    const counter = system.spawn('counter', counterMachine, { supervision: { maxRestarts: 1 } });
    const notices: WatchNotice[] = [];
    system.watch(counter, (n) => notices.push(n));
    counter.tell({ type: 'crash' });
    counter.tell({ type: 'crash' });
    const terminated = await waitFor('termination', () => notices.find((n) => n.type === 'actor.terminated'));
    assert.equal(terminated.type === 'actor.terminated' && terminated.reason, 'failed');
    assert.match(JSON.stringify(terminated), /crash requested/);
    await assert.rejects(counter.ask({ type: 'get' }), { code: 'DEAD_LETTER' });
  });

  it('stops at the first failure under the stop strategy', async () => {
    const counter = system.spawn('counter', counterMachine, { supervision: { strategy: 'stop' } });
    const terminated = new Promise<WatchNotice>((resolve) => system.watch(counter, resolve));
    counter.tell({ type: 'crash' });
    assert.equal((await terminated).type, 'actor.terminated');
  });

  it('tells watchers when an actor reaches its final state', async () => {
    const once = setup({}).createMachine({ initial: 'on', states: { on: { on: { done: 'off' } }, off: { type: 'final' } } });
    const ref = system.spawn('once', once);
    const notice = new Promise<WatchNotice>((resolve) => system.watch(ref, resolve));
    ref.tell({ type: 'done' });
    const n = await notice;
    assert.equal(n.type === 'actor.terminated' && n.reason, 'stopped');
  });

  it('tells a watcher of a name that does not exist at once', async () => {
    const notice = await new Promise<WatchNotice>((resolve) => system.watch(system.ref(system.node, 'nobody'), resolve));
    assert.equal(notice.type === 'actor.terminated' && notice.reason, 'not-found');
  });

  it('refuses a name that is taken or malformed', () => {
    system.spawn('counter', counterMachine);
    assert.throws(() => system.spawn('counter', counterMachine), { code: 'ACTOR_NAME_TAKEN' });
    assert.throws(() => system.spawn('$ask/1', counterMachine), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => system.refFor('no-at-sign'), { code: 'INVALID_ARGUMENT' });
  });

  it('parses refs from paths', () => {
    const ref = system.refFor('counter@127.0.0.1:4000');
    assert.equal(ref.node, '127.0.0.1:4000');
    assert.equal(ref.name, 'counter');
    assert.equal(ref.path, 'counter@127.0.0.1:4000');
  });
});

describe('actor - typed protocols', () => {
  it('makes a wrong message type a compile error', async () => {
    const system = await ActorSystem.start({ ...options, listen: false });
    try {
      const counter = system.spawn('counter', counterMachine);
      // Never called: these lines exist for the compiler, which must reject them.
      const wrong = [
        // @ts-expect-error 'dec' is not in the counter's protocol
        () => counter.tell({ type: 'dec' }),
        // @ts-expect-error 'inc' expects no reply, so it cannot be asked
        () => counter.ask({ type: 'inc' }),
      ];
      assert.equal(wrong.length, 2);
      const n: number = await counter.ask({ type: 'get' });
      assert.equal(n, 0);
    } finally {
      await system.terminate();
    }
  });
});

describe('actor - remote delivery to an idle actor', () => {
  it('keeps order and supervision when messages from the network are processed at once', async () => {
    const a = await ActorSystem.start({ ...options, name: 'a' });
    const b = await ActorSystem.start({ ...options, name: 'b' });
    try {
      const local = a.spawn('counter', counterMachine);
      const notices: WatchNotice[] = [];
      a.watch(local, (n) => notices.push(n));
      const remote = b.ref<typeof local extends ActorRef<infer M> ? M : never>(a.node, 'counter');
      remote.tell({ type: 'inc', by: 2 });
      remote.tell({ type: 'crash' });
      remote.tell({ type: 'inc', by: 5 });
      for (let i = 0; i < 100; i++) remote.tell({ type: 'inc' });
      assert.equal(await remote.ask({ type: 'get' }), 105, 'the increment after the crash reaches the restarted actor, in order');
      assert.deepEqual(notices.map((n) => n.type), ['actor.restarted']);
    } finally {
      await b.terminate();
      await a.terminate();
    }
  });
});

/** Counts numbered messages and how many arrived out of order. */
const sequenceMachine = setup({
  types: {
    context: {} as { next: number; outOfOrder: number },
    events: {} as { type: 'n'; i: number } | { type: 'get'; replyTo: ActorRef<[number, number]> },
  },
}).createMachine({
  context: { next: 0, outOfOrder: 0 },
  on: {
    n: { actions: assign(({ context, event }) => ({ next: event.i + 1, outOfOrder: context.outOfOrder + (event.i === context.next ? 0 : 1) })) },
    get: { actions: ({ context, event }) => event.replyTo.tell([context.next, context.outOfOrder]) },
  },
});

describe('actor - a flood from the network', () => {
  it('keeps the mailbox bounded: the connection stops reading, the sender waits for room, all arrives in order', async () => {
    const a = await ActorSystem.start({ ...options, name: 'a' });
    const b = await ActorSystem.start({ ...options, name: 'b' });
    let sampling = true;
    try {
      const local = a.spawn('seq', sequenceMachine);
      const cell = local.cell as ActorCell;
      let most = 0;
      const sample = (): void => {
        most = Math.max(most, cell.queued);
        if (sampling) setImmediate(sample);
      };
      sample();
      const remote = b.ref<typeof local extends ActorRef<infer M> ? M : never>(a.node, 'seq');
      const n = 200_000;
      for (let i = 0; i < n; ) {
        try {
          for (const end = Math.min(n, i + 10_000); i < end; i++) remote.tell({ type: 'n', i });
          await new Promise((resolve) => setImmediate(resolve));
        } catch (err) {
          if ((err as RuntimeError).code !== ErrorCode.SendQueueFull) throw err;
          await remote.send({ type: 'n', i }, { timeoutMs: 30_000 });
          i++;
        }
      }
      assert.deepEqual(await remote.ask({ type: 'get' }, { timeoutMs: 30_000 }), [n, 0]);
      // One socket read's worth may follow the message that crossed the mark.
      assert.ok(most <= 2 * MAILBOX_HIGH_WATER, `the mailbox held ${most} messages`);
    } finally {
      sampling = false;
      await b.terminate();
      await a.terminate();
    }
  });
});
