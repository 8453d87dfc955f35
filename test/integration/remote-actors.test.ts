import assert from 'node:assert/strict';
import type { ActorSystem, WatchNotice } from '../../lib/index.js';
import type { CounterMessage, EchoMessage, RelayMessage, WatcherMessage } from '../fixtures/machines.js';
import { killAll } from '../support/launcher.js';
import { startActorNode, startLocalSystem } from '../support/actor-nodes.js';
import { waitFor } from '../support/wait.js';

describe('actors - across processes', function () {
  this.timeout(30_000);
  let system: ActorSystem;

  beforeEach(async () => {
    system = await startLocalSystem();
  });
  afterEach(async () => {
    await system.terminate();
    await killAll();
  });

  it('tells and asks across three processes, with refs passed inside messages', async () => {
    const [b, c] = await Promise.all([startActorNode({}, 'node-b'), startActorNode({}, 'node-c')]);
    const counterB = system.ref<CounterMessage>(b.node, 'counter');
    const relayC = system.ref<RelayMessage>(c.node, 'relay');
    for (let i = 0; i < 100; i++) counterB.tell({ type: 'inc' });
    assert.equal(await counterB.ask({ type: 'get' }), 100);

    // C receives a ref to B's counter and tells it: C dials B itself.
    relayC.tell({ type: 'forward', to: counterB, message: { type: 'inc', by: 10 } });
    await waitFor('C to reach B', async () => (await counterB.ask({ type: 'get' })) === 110);

    // C asks B's echo on our behalf and relays the answer: an ask from a remote actor, with a ref we passed.
    const echoB = system.ref<EchoMessage>(b.node, 'echo');
    const answer = await relayC.ask({ type: 'ask-via', target: echoB, payload: { nested: [1, 'two'] } });
    assert.deepEqual(answer, { nested: [1, 'two'] });
  });

  it('rejects an ask with no reply after its timeout, and fails an ask to a missing actor at once', async () => {
    const b = await startActorNode({}, 'node-b');
    await assert.rejects(system.ref<EchoMessage>(b.node, 'echo').ask({ type: 'ignore' }, { timeoutMs: 200 }), {
      code: 'ASK_TIMEOUT',
    });
    const started = Date.now();
    await assert.rejects(system.ref<CounterMessage>(b.node, 'missing').ask({ type: 'get' }, { timeoutMs: 10_000 }), {
      code: 'DEAD_LETTER',
    });
    assert.ok(Date.now() - started < 2000);
  });

  it('tells watchers when a peer is killed with SIGKILL, and fails its pending asks', async () => {
    const b = await startActorNode({}, 'node-b');
    const echo = system.ref<EchoMessage>(b.node, 'echo');
    const notices: WatchNotice[] = [];
    system.watch(echo, (n) => notices.push(n));
    await echo.ask({ type: 'echo', payload: 1 });
    const pending = echo.ask({ type: 'ignore' }, { timeoutMs: 20_000 });
    b.kill('SIGKILL');
    await assert.rejects(pending, { code: 'PEER_UNREACHABLE' });
    const notice = await waitFor('a termination notice', () => notices[0]);
    assert.equal(notice.type, 'actor.terminated');
    assert.equal(notice.type === 'actor.terminated' && notice.reason, 'connection-lost');
  });

  it('tells watchers in another process when a watched actor stops', async () => {
    const [b, c] = await Promise.all([startActorNode({}, 'node-b'), startActorNode({}, 'node-c')]);
    const watcherC = system.ref<WatcherMessage>(c.node, 'watcher');
    watcherC.tell({ type: 'watch', target: system.ref(b.node, 'counter') });
    b.kill('SIGKILL');
    const notices = await waitFor('C to see B go', async () => {
      const list = await watcherC.ask({ type: 'notices' });
      return list.length > 0 ? list : undefined;
    });
    assert.equal(notices[0]!.actor, `counter@${b.node}`);
    assert.equal(notices[0]!.reason, 'connection-lost');
  });

  it('declares a paused peer lost when heartbeats time out', async () => {
    const b = await startActorNode({}, 'node-b');
    const echo = system.ref<EchoMessage>(b.node, 'echo');
    await echo.ask({ type: 'echo', payload: 1 });
    const notice = new Promise<WatchNotice>((resolve) => system.watch(echo, resolve));
    await b.pause();
    const n = await notice;
    assert.equal(n.type === 'actor.terminated' && n.reason, 'heartbeat-timeout');
    b.resume();
  });

  it('reconnects to a peer restarted on the same port and delivers what was sent meanwhile', async () => {
    const b = await startActorNode({}, 'node-b');
    const port = b.node.split(':')[1]!;
    const counter = system.ref<CounterMessage>(b.node, 'counter');
    await counter.ask({ type: 'get' });
    b.kill('SIGKILL');
    await waitFor('the connection to drop', () => !b.running);
    await waitFor('the loss to be seen', async () => {
      try {
        await counter.ask({ type: 'get' }, { timeoutMs: 100 });
        return false;
      } catch (err) {
        return (err as { code?: string }).code === 'PEER_UNREACHABLE';
      }
    });
    counter.tell({ type: 'inc', by: 7 }); // queued while the peer is down
    await startActorNode({ PORT: port }, 'node-b-again');
    assert.equal(await waitFor('the queued message to arrive', async () => (await counter.ask({ type: 'get' })) || undefined), 7);
  });

  it('reports queued messages as undeliverable when the peer stays away', async () => {
    const local = await startLocalSystem({ reconnect: { initialDelayMs: 10, maxDelayMs: 50, giveUpAfterMs: 300 } });
    try {
      const b = await startActorNode({}, 'node-b');
      const counter = local.ref<CounterMessage>(b.node, 'counter');
      await counter.ask({ type: 'get' });
      b.kill('SIGKILL');
      await b.waitForExit();
      await waitFor('the peer to be seen down', () => !local['transport'].isConnected(b.node));
      const undeliverable = new Promise((resolve) => local.events.on('dead-letter', resolve));
      counter.tell({ type: 'inc' });
      await undeliverable;
      assert.ok(local.deadLetters >= 1);
    } finally {
      await local.terminate();
    }
  });
});
