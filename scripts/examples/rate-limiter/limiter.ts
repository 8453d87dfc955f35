/**
 * A rate limiter whose token buckets (one per client key) live in an HA singleton: every
 * node asks it through its proxy, so a limit holds across the whole service, and across a
 * move of the singleton (its buckets are persisted; a verdict is sent only once the
 * bucket it drew from is stored).
 */
import { assign, setup } from 'xstate';
import { reply, type ActorRef } from '../../../lib/index.js';
import type { SingletonEnv } from '../../../lib/singleton/index.js';

export interface LimiterConfig {
  /** Tokens a bucket holds when full. */
  capacity: number;
  refillPerSecond: number;
}

export interface Bucket {
  tokens: number;
  /** Wall-clock ms of the last refill: it must mean the same on every node (one clock domain). */
  at: number;
}

export interface Verdict {
  allowed: boolean;
  remaining: number;
}

export type LimiterMessage = { type: 'limiter.take'; key: string; cost?: number; replyTo: ActorRef<Verdict> };

/** Refill `bucket` up to `now`, then take `cost` tokens if there are enough. */
export function take(bucket: Bucket | undefined, now: number, config: LimiterConfig, cost = 1): { bucket: Bucket; verdict: Verdict } {
  const last = bucket ?? { tokens: config.capacity, at: now };
  const refilled = Math.min(config.capacity, last.tokens + (Math.max(0, now - last.at) / 1000) * config.refillPerSecond);
  const allowed = refilled >= cost;
  const tokens = allowed ? refilled - cost : refilled;
  return { bucket: { tokens, at: now }, verdict: { allowed, remaining: Math.floor(tokens) } };
}

export interface LimiterInput {
  env: SingletonEnv;
  config: LimiterConfig;
}

interface LimiterContext extends LimiterInput {
  buckets: Record<string, Bucket>;
  last: Verdict | null;
}

export const limiterMachine = setup({
  types: { context: {} as LimiterContext, events: {} as LimiterMessage, input: {} as LimiterInput },
}).createMachine({
  context: ({ input }) => ({ ...input, buckets: {}, last: null }),
  on: {
    'limiter.take': {
      actions: [
        assign(({ context, event }) => {
          const { bucket, verdict } = take(context.buckets[event.key], Date.now(), context.config, event.cost);
          return { buckets: { ...context.buckets, [event.key]: bucket }, last: verdict };
        }),
        ({ context, event }) => {
          const verdict = context.last!;
          context.env.afterSave(() => reply(event.replyTo, verdict));
        },
      ],
    },
  },
});

/** The env belongs to one term, and the config to this deployment: neither is stored. */
export const limiterPersistence = {
  persistContext: ({ env: _env, config: _config, ...rest }: LimiterContext) => rest,
  reviveContext: (stored: Omit<LimiterContext, keyof LimiterInput>, input: LimiterInput): LimiterContext => ({ ...stored, ...input }),
};
