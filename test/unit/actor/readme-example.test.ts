/** The README's embedding example, verbatim but for the import path: it must keep working. */
import assert from 'node:assert/strict';
import { setup, assign } from 'xstate';
import { ActorSystem, reply, type ActorRef, type WatchNotice } from '../../../lib/index.js';

type CounterMessage = { type: 'inc'; by: number } | { type: 'get'; replyTo: ActorRef<number> };

const counter = setup({ types: { context: {} as { n: number }, events: {} as CounterMessage } }).createMachine({
  context: { n: 0 },
  on: {
    inc: { actions: assign({ n: ({ context, event }) => context.n + event.by }) },
    get: { actions: ({ context, event }) => reply(event.replyTo, context.n) },
  },
});

describe('readme - embedding example', () => {
  it('runs as documented', async () => {
    const options = { clusterId: 'my-service', secret: process.env['CLUSTER_SECRET'] ?? 'a-long-shared-secret' };
    const a = await ActorSystem.start({ ...options, name: 'a' });
    const b = await ActorSystem.start({ ...options, name: 'b' });

    const local = a.spawn('counter', counter, { supervision: { strategy: 'restart', maxRestarts: 3, withinMs: 10_000 } });
    local.tell({ type: 'inc', by: 2 });

    const remote = b.ref<CounterMessage>(a.node, 'counter');
    remote.tell({ type: 'inc', by: 3 });
    assert.equal(await remote.ask({ type: 'get' }, { timeoutMs: 1000 }), 5);

    const notices: WatchNotice[] = [];
    b.watch(remote, (notice) => notices.push(notice));
    await b.terminate();
    await a.terminate();
  });
});
