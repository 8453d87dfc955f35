/**
 * A work queue whose dispatcher is an HA singleton. Producers enqueue items (the ack comes
 * only once the item is stored, so an acked item survives a move of the dispatcher);
 * workers on other nodes register, pull one item at a time and ack it. An item pulled but
 * not acked within `visibilityMs` (its worker died, or the ack was lost in a move) goes
 * back to the head of the queue: delivery is at least once, and nothing acked is lost.
 */
import { assign, setup } from 'xstate';
import { reply, type ActorRef } from '../../../lib/index.js';
import type { SingletonEnv } from '../../../lib/singleton/index.js';

export interface WorkItem {
  id: string;
  payload: unknown;
}

export interface QueueStats {
  queued: number;
  inflight: number;
  done: number;
  workers: string[];
}

export type QueueMessage =
  | { type: 'queue.enqueue'; item: WorkItem; replyTo: ActorRef<{ accepted: true }> }
  | { type: 'queue.register'; worker: string; replyTo: ActorRef<{ registered: true }> }
  | { type: 'queue.pull'; worker: string; replyTo: ActorRef<WorkItem | null> }
  | { type: 'queue.ack'; worker: string; id: string }
  | { type: 'queue.stats'; replyTo: ActorRef<QueueStats> };

export interface DispatcherInput {
  env: SingletonEnv;
  visibilityMs: number;
}

interface Inflight {
  item: WorkItem;
  worker: string;
  /** Wall-clock ms after which the item is handed out again. */
  until: number;
}

interface DispatcherContext extends DispatcherInput {
  queue: WorkItem[];
  inflight: Record<string, Inflight>;
  /** Ids acked lately, so that a producer's retry of an acked item is not run twice. */
  done: string[];
  doneCount: number;
  workers: Record<string, number>;
  pulled: WorkItem | null;
}

const DONE_REMEMBERED = 10_000;

function known(context: DispatcherContext, id: string): boolean {
  return id in context.inflight || context.queue.some((i) => i.id === id) || context.done.includes(id);
}

/** Items whose visibility ran out go back to the head of the queue. */
function requeueExpired(context: DispatcherContext, now: number): Pick<DispatcherContext, 'queue' | 'inflight'> {
  const expired = Object.values(context.inflight).filter((f) => f.until <= now);
  if (expired.length === 0) return { queue: context.queue, inflight: context.inflight };
  const inflight = { ...context.inflight };
  for (const f of expired) delete inflight[f.item.id];
  return { queue: [...expired.map((f) => f.item), ...context.queue], inflight };
}

export const dispatcherMachine = setup({
  types: { context: {} as DispatcherContext, events: {} as QueueMessage, input: {} as DispatcherInput },
}).createMachine({
  context: ({ input }) => ({ ...input, queue: [], inflight: {}, done: [], doneCount: 0, workers: {}, pulled: null }),
  on: {
    'queue.enqueue': {
      actions: [
        assign(({ context, event }) => (known(context, event.item.id) ? {} : { queue: [...context.queue, event.item] })),
        // Acked only once stored: an acked item survives a move of the dispatcher.
        ({ context, event }) => context.env.afterSave(() => reply(event.replyTo, { accepted: true })),
      ],
    },
    'queue.register': {
      actions: [
        assign({ workers: ({ context, event }) => ({ ...context.workers, [event.worker]: Date.now() }) }),
        ({ event }) => reply(event.replyTo, { registered: true }),
      ],
    },
    'queue.pull': {
      actions: [
        assign(({ context, event }) => {
          const now = Date.now();
          const { queue, inflight } = requeueExpired(context, now);
          const [item, ...rest] = queue;
          if (!item) return { queue, inflight, pulled: null };
          return {
            queue: rest,
            inflight: { ...inflight, [item.id]: { item, worker: event.worker, until: now + context.visibilityMs } },
            workers: { ...context.workers, [event.worker]: now },
            pulled: item,
          };
        }),
        // At least once: a pulled item is stored as in flight, or redelivered after a move.
        ({ context, event }) => reply(event.replyTo, context.pulled),
      ],
    },
    'queue.ack': {
      actions: assign(({ context, event }) => {
        if (!(event.id in context.inflight)) return {};
        const { [event.id]: _acked, ...inflight } = context.inflight;
        return { inflight, done: [...context.done, event.id].slice(-DONE_REMEMBERED), doneCount: context.doneCount + 1 };
      }),
    },
    'queue.stats': {
      actions: ({ context, event }) =>
        reply(event.replyTo, {
          queued: context.queue.length,
          inflight: Object.keys(context.inflight).length,
          done: context.doneCount,
          workers: Object.keys(context.workers),
        }),
    },
  },
});

export const dispatcherPersistence = {
  persistContext: ({ env: _env, visibilityMs: _v, pulled: _p, ...rest }: DispatcherContext) => rest,
  reviveContext: (stored: Omit<DispatcherContext, keyof DispatcherInput | 'pulled'>, input: DispatcherInput): DispatcherContext => ({
    ...stored,
    ...input,
    pulled: null,
  }),
};
