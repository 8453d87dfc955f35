/**
 * One singleton's contender on one node: it campaigns in the singleton's own etcd election
 * and runs the instance while it leads. The model, per node:
 *
 * ```
 *            grantLeadership(token)            restored + spawned
 *  standby ─────────────────────────▶ starting ───────────────────▶ active
 *     ▲                                  │                             │
 *     │        revokeLeadership()        │                             │ revokeLeadership(),
 *     └──────────── stopping ◀───────────┴─────────────────────────────┘ instance failed, close()
 * ```
 *
 * - **standby**: a candidate; the gate refuses messages (the sender's proxy retries).
 * - **starting**: leader with fencing token T (the election's session id). Loads the last
 *   snapshot from the store, then spawns the instance with it. The gate buffers messages
 *   tagged T (bounded) and delivers them once active.
 * - **active**: the instance runs. The gate delivers only messages tagged T, and checks the
 *   term's guard first, so that a host that was paused past its lease does not process a
 *   message in the moment between waking and the election noticing. Every snapshot is
 *   saved with the term's fence: once a newer term exists etcd refuses the write.
 * - **stopping**: on revocation the instance is stopped synchronously, inside the election's
 *   `revokeLeadership`, which the election calls before the lease can expire on the server
 *   (no keepalive confirmed for 2/3 of the TTL); persistence is closed, buffered messages
 *   are refused. A graceful `close()` stops the instance, saves a last snapshot (still
 *   fenced), then resigns so that the next host starts at once.
 *
 * Two instances never act at once: a new term begins only after the old leader key is gone
 * (lease expired or revoked), the old host stops before its lease can expire, and anything
 * it still tries afterwards (a write, a message) fails its fence.
 */
import { EventEmitter } from 'node:events';
import type { AnyActorLogic, InputFrom } from 'xstate';
import type { ActorRef } from '../actor/ref.js';
import type { ActorEnv, ActorSystem } from '../actor/system.js';
import type { SupervisionPolicy } from '../actor/supervision.js';
import type { Namespace } from 'etcd3';
import type { EtcdLeaderElection } from '../ha/etcd-election.js';
import { termVouched, type LeaderContender } from '../ha/types.js';
import type { Logger } from '../logging.js';
import { ActorPersistence } from '../persistence/actor-persistence.js';
import type { SnapshotFence, SnapshotStore } from '../persistence/types.js';
import type { GateMessage } from './protocol.js';
import { sleep, type Clock } from '../util/clock.js';

export const HostState = { Standby: 'standby', Starting: 'starting', Active: 'active', Stopping: 'stopping' } as const;
export type HostState = (typeof HostState)[keyof typeof HostState];

/** What a singleton's input function receives: the actor's env plus its term. */
export interface SingletonEnv extends ActorEnv {
  /** The fencing token of this term (zero-padded etcd revision: compares as a string). */
  token: string;
  /** Fence etcd writes of your own with it: `fencedTxn(fence.root, fence.guard, ...)`. */
  fence: SnapshotFence;
  /** Run `onSaved` once the state including the current event is stored (at once without persistence). */
  afterSave(onSaved: () => void, onFailed?: (err: unknown) => void): void;
}

export interface SingletonPersistence {
  store: SnapshotStore;
  /** Default `singleton/<group>/<name>`. */
  key?: string;
  /** Save every N events (default 1); saves are serialized and coalesced. */
  everyEvents?: number;
  /** See PersistenceOptions: what of the context to store, and how to rebuild it. */
  persistContext?: (context: any) => unknown;
  reviveContext?: (stored: any, input: any) => unknown;
}

export interface SingletonOptions<L extends AnyActorLogic> {
  input?: InputFrom<L> | ((env: SingletonEnv) => InputFrom<L>);
  supervision?: Partial<SupervisionPolicy>;
  persistence?: SingletonPersistence;
  /** false: only a proxy on this node, never a host. Default true. */
  host?: boolean;
}

export interface SingletonEvents {
  /** This node's instance runs (restored: a stored snapshot was found). */
  'singleton.active': [singleton: string, token: string, restored: boolean];
  /** This node's instance stopped. */
  'singleton.stopped': [singleton: string, token: string, reason: string];
  /** A tell that no host took in time (ask and send reject instead). */
  'singleton.undeliverable': [singleton: string, messageType: string, error: Error];
}

type GateEntry = Extract<GateMessage, { type: 'singleton.tell' | 'singleton.ask' }>;

interface Term {
  token: string;
  fence: SnapshotFence;
  state: 'starting' | 'active' | 'stopping';
  buffer: GateEntry[];
  persistence: ActorPersistence<AnyActorLogic> | null;
  ref: ActorRef<any> | null;
}

export interface HostDeps {
  system: ActorSystem;
  singleton: string;
  logic: AnyActorLogic;
  options: SingletonOptions<AnyActorLogic>;
  election: EtcdLeaderElection;
  /** The singleton's namespace: its election's keys live here (fences compare against them). */
  root: Namespace;
  defaultKey: string;
  bufferSize: number;
  events: EventEmitter<SingletonEvents>;
  /** Restore retries and the pause before campaigning again. */
  clock: Clock;
  log: Logger;
  /** Hand a message back to its sender's proxy (ask: SINGLETON_NOT_HOST; tell: bounce). */
  refuse(entry: GateEntry): void;
}

const RESTORE_RETRY_MS = 200;
const RECAMPAIGN_DELAY_MS = 1000;

/** @internal One singleton's contender on this node; see the model above. */
export class SingletonHost implements LeaderContender {
  private term: Term | null = null;
  private stopping = false;
  private closed = false;

  constructor(private readonly deps: HostDeps) {}

  get state(): HostState {
    if (this.stopping) return HostState.Stopping;
    return this.term ? this.term.state : HostState.Standby;
  }

  get token(): string | null {
    return this.term?.token ?? null;
  }

  campaign(): void {
    this.deps.election.campaign(this, this.deps.system.node);
  }

  /** A message from a proxy, tagged with the term the proxy believes current. */
  accept(entry: GateEntry): void {
    const term = this.term;
    if (!term || term.token !== entry.token || term.state === 'stopping') return this.deps.refuse(entry);
    if (term.state === 'starting') {
      if (term.buffer.length >= this.deps.bufferSize) return this.deps.refuse(entry);
      term.buffer.push(entry);
      return;
    }
    // A host that wakes from a pause must not process a message before its election notices.
    if (!termVouched(term.fence.guard)) return this.deps.refuse(entry);
    this.handOver(term, entry);
  }

  grantLeadership(token: string): void {
    const guard = this.deps.election.guard();
    if (!guard) return;
    const term: Term = { token, fence: { root: this.deps.root, guard }, state: 'starting', buffer: [], persistence: null, ref: null };
    this.term = term;
    this.deps.log.info({ singleton: this.deps.singleton, token }, 'singleton starting');
    void this.start(term);
  }

  revokeLeadership(): void {
    const term = this.term;
    if (!term) return;
    this.term = null;
    this.stopTerm(term, 'leadership revoked');
  }

  /** Hand over gracefully: stop, save a last snapshot (fenced), resign. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const term = this.term;
    if (term?.state === 'active') {
      term.state = 'stopping';
      if (term.ref) this.deps.system.stop(term.ref);
      await term.persistence?.save().catch((err: unknown) => this.deps.log.warn({ err }, 'last snapshot not saved'));
    }
    await this.deps.election.resign();
    await this.deps.election.close();
  }

  private async start(term: Term): Promise<void> {
    const { options, system, singleton } = this.deps;
    try {
      if (options.persistence) term.persistence = await this.restore(term, options.persistence);
      if (this.term !== term) {
        term.persistence?.close();
        return;
      }
      const env = (actorEnv: ActorEnv): SingletonEnv => ({
        ...actorEnv,
        token: term.token,
        fence: term.fence,
        afterSave: (onSaved, onFailed) => (term.persistence ? term.persistence.afterSave(onSaved, onFailed) : queueMicrotask(onSaved)),
      });
      const input = options.input;
      term.ref = system.spawn(singleton, term.persistence?.logic ?? this.deps.logic, {
        input: typeof input === 'function' ? (actorEnv: ActorEnv) => (input as (e: SingletonEnv) => unknown)(env(actorEnv)) : input,
        ...(options.supervision ? { supervision: options.supervision } : {}),
      });
      system.watch(term.ref, (notice) => {
        if (notice.type === 'actor.terminated' && this.term === term && term.state === 'active') void this.instanceEnded(term, notice.reason);
      });
      term.state = 'active';
      this.deps.log.info({ singleton, token: term.token, restored: term.persistence?.restored ?? false }, 'singleton active');
      this.deps.events.emit('singleton.active', singleton, term.token, term.persistence?.restored ?? false);
      for (const entry of term.buffer.splice(0)) this.handOver(term, entry);
    } catch (err) {
      this.deps.log.error({ err, singleton }, 'singleton failed to start; handing leadership on');
      if (this.term === term) await this.recampaign();
    }
  }

  /** Load the last snapshot, retrying while this term lasts (etcd may be briefly away). */
  private async restore(term: Term, persistence: SingletonPersistence): Promise<ActorPersistence<AnyActorLogic> | null> {
    for (;;) {
      try {
        return await ActorPersistence.restore(this.deps.logic, {
          store: persistence.store,
          key: persistence.key ?? this.deps.defaultKey,
          everyEvents: persistence.everyEvents ?? 1,
          fence: term.fence,
          ...(persistence.persistContext ? { persistContext: persistence.persistContext } : {}),
          ...(persistence.reviveContext ? { reviveContext: persistence.reviveContext } : {}),
          log: this.deps.log,
          onSaveError: (err) => this.deps.log.warn({ err, singleton: this.deps.singleton }, 'singleton snapshot not saved'),
        });
      } catch (err) {
        if (this.term !== term) return null;
        this.deps.log.warn({ err }, 'singleton state not loaded; retrying');
        await sleep(this.deps.clock, RESTORE_RETRY_MS);
        if (this.term !== term) return null;
      }
    }
  }

  private handOver(term: Term, entry: GateEntry): void {
    const message = entry.type === 'singleton.ask' ? { ...(entry.message as object), replyTo: entry.replyTo } : entry.message;
    term.ref!.tell(message);
  }

  private stopTerm(term: Term, reason: string): void {
    term.state = 'stopping';
    term.persistence?.close();
    if (term.ref) this.deps.system.stop(term.ref);
    for (const entry of term.buffer.splice(0)) this.deps.refuse(entry);
    this.deps.log.warn({ singleton: this.deps.singleton, token: term.token, reason }, 'singleton stopped');
    this.deps.events.emit('singleton.stopped', this.deps.singleton, term.token, reason);
  }

  /** The instance stopped by itself (failed past its supervision): let another node try. */
  private async instanceEnded(term: Term, reason: string): Promise<void> {
    this.deps.log.error({ singleton: this.deps.singleton, token: term.token, reason }, 'singleton instance ended while active');
    await this.recampaign();
  }

  private async recampaign(): Promise<void> {
    this.stopping = true;
    try {
      await this.deps.election.resign();
    } finally {
      this.stopping = false;
    }
    if (this.closed) return;
    this.deps.clock.setTimeout(() => !this.closed && this.campaign(), RECAMPAIGN_DELAY_MS, { unref: true });
  }
}
