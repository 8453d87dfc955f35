/**
 * A standby Master's watch on the leader, to take over as soon as the leader's process is
 * proven dead instead of after its lease (the argument and its limits: lib/ha/leader-death.ts).
 * Invoked by the Master's `standby` state: leaving it (leadership granted, stop) cancels it,
 * with every effect it has running.
 *
 * States:
 * - `off`: no takeover services (standalone, or the election cannot revoke), nothing happens.
 * - `idle`: no leader to watch (none, ours, one without a published instance), or no proof is
 *   to be had any more: the lease decides.
 * - `following.linking` → `following.linked`: hold a verified connection to the leader's
 *   Master (a remote watch) and check that the handshake names the term's instance. A dial that
 *   fails is retried a bounded number of times on the clock; another instance answering the
 *   address before we ever were linked proves nothing (we never saw this term's process), so:
 *   `idle`.
 * - `probing`: the linked connection closed (not timed out): connect to the address again.
 *   Refused → `revoking`. Accepted → `relinking`. No answer (a DROP partition) → `following`:
 *   no proof, heartbeats and the lease decide.
 * - `relinking`: something listens at the address: the term's instance (alive after all:
 *   `following.linked`) or another one (a new process on that port: the term's is gone:
 *   `revoking`).
 * - `revoking`: the election deletes that exact term (guarded) and evaluates our candidacy;
 *   retried a bounded number of times, then `idle`. Afterwards we lead (and this actor is
 *   stopped) or the next leader is reported and followed.
 */
import { assign, fromCallback, fromPromise, setup } from 'xstate';
import type { Logger } from '../../lib/logging.js';
import type { LeaderInfo } from '../../lib/ha/types.js';
import type { DeadTermRevocation } from '../../lib/ha/etcd-election.js';
import { ProbeOutcome } from '../../lib/ha/leader-death.js';

/** Why the link to the leader's Master ended. */
export const LinkLoss = {
  /** The connection closed (FIN/RST) or a dial failed: possibly a death, to be proven. */
  Closed: 'closed',
  /** Silence past the heartbeat timeout: a paused, hung or cut-off peer, never proof. */
  Silent: 'silent',
  /** The leader's Master actor stopped while its process lives on: it resigns by itself. */
  Stopped: 'stopped',
} as const;
export type LinkLoss = (typeof LinkLoss)[keyof typeof LinkLoss];

export type LinkEvent = { kind: 'up'; instance: string } | { kind: 'lost'; loss: LinkLoss };

/** What the takeover needs of the process: the leader as etcd reports it, a link, a probe, the revocation. */
export interface TakeoverServices {
  /** This process's incarnation (its leader record carries it while it leads). */
  readonly instance: string;
  /** Follow the leader's record; returns the function that stops following. */
  followLeader(listener: (leader: LeaderInfo | null) => void): () => void;
  /** Hold a verified connection to the Master at `node`; returns the function that ends it. */
  link(node: string, listener: (event: LinkEvent) => void): () => void;
  /** Connect to `address` and close again (leader-death.ts); `signal` aborts it when the state is left. */
  probe(address: string, timeoutMs: number, signal: AbortSignal): Promise<ProbeOutcome>;
  revokeDeadTerm(leader: { sessionId: string; leaseId: string }): Promise<DeadTermRevocation>;
}

export interface TakeoverInput {
  services: TakeoverServices | null;
  log: Logger;
}

/** Bounds: a dial that keeps failing, a probe answered by nobody, a revocation etcd does not take. */
export const TAKEOVER_LIMITS = {
  linkAttempts: 5,
  linkRetryMs: 200,
  probeTimeoutMs: 250,
  /** Closes in a row without a verified reconnect in between: a flapping link is no proof. */
  probeRounds: 3,
  revokeAttempts: 3,
  revokeRetryMs: 100,
} as const;

export type TakeoverEvent =
  | { type: 'takeover.leader'; leader: LeaderInfo | null }
  | { type: 'takeover.link'; event: LinkEvent };

export interface TakeoverContext extends TakeoverInput {
  leader: LeaderInfo | null;
  linkAttempts: number;
  probeRounds: number;
  revokeAttempts: number;
}

/** A leader this standby can prove dead: one with an instance and a lease, and not itself. */
function watchable(leader: LeaderInfo | null, instance: string): leader is LeaderInfo & { instance: string; leaseId: string } {
  return leader !== null && leader.instance !== undefined && leader.leaseId !== undefined && leader.instance !== instance;
}

const linkEvent = (event: TakeoverEvent): LinkEvent | null => (event.type === 'takeover.link' ? event.event : null);
const lossOf = (event: TakeoverEvent): LinkLoss | null => {
  const e = linkEvent(event);
  return e?.kind === 'lost' ? e.loss : null;
};

export const takeoverMachine = setup({
  types: { context: {} as TakeoverContext, events: {} as TakeoverEvent, input: {} as TakeoverInput },
  actors: {
    followLeader: fromCallback<TakeoverEvent, TakeoverServices>(({ input, sendBack }) => input.followLeader((leader) => sendBack({ type: 'takeover.leader', leader }))),
    link: fromCallback<TakeoverEvent, { services: TakeoverServices; node: string }>(({ input, sendBack }) =>
      input.services.link(input.node, (event) => sendBack({ type: 'takeover.link', event })),
    ),
    probe: fromPromise<ProbeOutcome, { services: TakeoverServices; address: string }>(({ input, signal }) =>
      input.services.probe(input.address, TAKEOVER_LIMITS.probeTimeoutMs, signal),
    ),
    revoke: fromPromise<DeadTermRevocation, { services: TakeoverServices; leader: { sessionId: string; leaseId: string } }>(({ input }) =>
      input.services.revokeDeadTerm(input.leader),
    ),
  },
  guards: {
    hasServices: ({ context }) => context.services !== null,
    watchable: ({ context }) => watchable(context.leader, context.services!.instance),
    newLeader: ({ context, event }) =>
      event.type === 'takeover.leader' && (event.leader?.sessionId !== context.leader?.sessionId || event.leader?.instance !== context.leader?.instance),
    termInstanceUp: ({ context, event }) => {
      const e = linkEvent(event);
      return e?.kind === 'up' && e.instance === context.leader?.instance;
    },
    otherInstanceUp: ({ context, event }) => {
      const e = linkEvent(event);
      return e?.kind === 'up' && e.instance !== context.leader?.instance;
    },
    closed: ({ event }) => lossOf(event) === LinkLoss.Closed,
    silent: ({ event }) => lossOf(event) === LinkLoss.Silent,
    lost: ({ event }) => lossOf(event) !== null,
    mayRetryLink: ({ context }) => context.linkAttempts < TAKEOVER_LIMITS.linkAttempts,
    mayProbeAgain: ({ context }) => context.probeRounds < TAKEOVER_LIMITS.probeRounds,
    mayRevokeAgain: ({ context }) => context.revokeAttempts < TAKEOVER_LIMITS.revokeAttempts,
  },
  delays: { linkRetry: TAKEOVER_LIMITS.linkRetryMs, revokeRetry: TAKEOVER_LIMITS.revokeRetryMs },
  actions: {
    noteLeader: assign(({ event }) => (event.type === 'takeover.leader' ? { leader: event.leader, linkAttempts: 0, probeRounds: 0, revokeAttempts: 0 } : {})),
    countLink: assign(({ context }) => ({ linkAttempts: context.linkAttempts + 1 })),
    linked: assign(() => ({ linkAttempts: 0, probeRounds: 0 })),
    countProbe: assign(({ context }) => ({ probeRounds: context.probeRounds + 1 })),
    countRevoke: assign(({ context }) => ({ revokeAttempts: context.revokeAttempts + 1 })),
    logProof: ({ context }, proof: string) =>
      context.log.warn({ leader: context.leader?.address, sessionId: context.leader?.sessionId, proof }, 'leader process proven dead: revoking its term'),
  },
}).createMachine({
  id: 'takeover',
  context: ({ input }) => ({ ...input, leader: null, linkAttempts: 0, probeRounds: 0, revokeAttempts: 0 }),
  initial: 'starting',
  states: {
    starting: { always: [{ guard: 'hasServices', target: 'watching' }, { target: 'off' }] },
    off: {},
    watching: {
      invoke: { src: 'followLeader', input: ({ context }) => context.services! },
      initial: 'idle',
      on: { 'takeover.leader': { guard: 'newLeader', target: '.choosing', actions: 'noteLeader' } },
      states: {
        choosing: { always: [{ guard: 'watchable', target: 'following' }, { target: 'idle' }] },
        idle: {},
        following: {
          invoke: { src: 'link', input: ({ context }) => ({ services: context.services!, node: context.leader!.address }) },
          initial: 'linking',
          states: {
            linking: {
              entry: 'countLink',
              on: {
                'takeover.link': [
                  { guard: 'termInstanceUp', target: 'linked', actions: 'linked' },
                  // We never saw this term's process: another one at its address proves nothing.
                  { guard: 'otherInstanceUp', target: '#takeover.watching.idle' },
                  { guard: 'mayRetryLink', target: '#takeover.watching.retryingLink' },
                  { target: '#takeover.watching.idle' },
                ],
              },
            },
            linked: {
              entry: ({ context }) =>
                context.log.info({ leader: context.leader?.address, sessionId: context.leader?.sessionId }, 'linked to the leader: its death can be proven'),
              on: {
                'takeover.link': [
                  // Connected again to the same process (the transport reconnected): still linked.
                  { guard: 'termInstanceUp' },
                  // Another instance verified at the address replaced the term's connection: prove it.
                  { guard: 'otherInstanceUp', target: '#takeover.watching.probing', actions: 'countProbe' },
                  { guard: 'closed', target: '#takeover.watching.probing', actions: 'countProbe' },
                  { guard: 'silent', target: '#takeover.watching.retryingLink' },
                  { guard: 'lost', target: '#takeover.watching.idle' },
                ],
              },
            },
          },
        },
        retryingLink: { after: { linkRetry: 'following' } },
        probing: {
          invoke: {
            src: 'probe',
            input: ({ context }) => ({ services: context.services!, address: context.leader!.address }),
            onDone: [
              { guard: ({ event }) => event.output === ProbeOutcome.Refused, target: 'revoking', actions: { type: 'logProof', params: 'connection closed, address refuses' } },
              { guard: ({ event }) => event.output === ProbeOutcome.Accepted, target: 'relinking' },
              { target: 'retryingLink' },
            ],
            onError: { target: 'retryingLink' },
          },
        },
        relinking: {
          invoke: { src: 'link', input: ({ context }) => ({ services: context.services!, node: context.leader!.address }) },
          on: {
            'takeover.link': [
              { guard: 'termInstanceUp', target: 'following.linked', actions: 'linked' },
              { guard: 'otherInstanceUp', target: 'revoking', actions: { type: 'logProof', params: 'connection closed, another instance at the address' } },
              { guard: 'mayProbeAgain', target: 'probing', actions: 'countProbe' },
              { target: 'idle' },
            ],
          },
        },
        revoking: {
          entry: 'countRevoke',
          invoke: {
            src: 'revoke',
            input: ({ context }) => ({ services: context.services!, leader: { sessionId: context.leader!.sessionId, leaseId: context.leader!.leaseId! } }),
            onDone: {
              target: 'idle',
              actions: ({ context, event }) => context.log.info({ sessionId: context.leader?.sessionId, outcome: event.output }, 'dead leader term revocation done'),
            },
            onError: [
              { guard: 'mayRevokeAgain', target: 'retryingRevoke', actions: ({ context, event }) => context.log.warn({ err: event.error }, 'could not revoke the dead term; retrying') },
              { target: 'idle', actions: ({ context, event }) => context.log.warn({ err: event.error }, 'could not revoke the dead term; its lease decides') },
            ],
          },
        },
        retryingRevoke: { after: { revokeRetry: 'revoking' } },
      },
    },
  },
});
