/** The actor every messaging measurement talks to, so that all of them do the same work. */
import { assign, setup } from 'xstate';
import { reply, type ActorRef } from '../../lib/index.js';

export type BenchCounterMessage = { type: 'inc' } | { type: 'get'; replyTo: ActorRef<number> } | { type: 'ping'; replyTo: ActorRef<number> };

export const benchCounter = setup({ types: { context: {} as { n: number }, events: {} as BenchCounterMessage } }).createMachine({
  context: { n: 0 },
  on: {
    inc: { actions: assign({ n: ({ context }) => context.n + 1 }) },
    get: { actions: ({ context, event }) => reply(event.replyTo, context.n) },
    ping: { actions: ({ event }) => reply(event.replyTo, 0) },
  },
});

export const benchCluster = { clusterId: 'bench', secret: 'bench-secret-0123456789' };
