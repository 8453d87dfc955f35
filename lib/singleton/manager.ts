/**
 * HA singletons: an actor that runs on exactly one node of a group, chosen through etcd,
 * and a proxy ref to it on every node. One SingletonManager per group per node.
 *
 * Per singleton `name` of group `g`, under `/flinkish/<g>/singletons/<name>/`:
 * - an EtcdLeaderElection; the leader key's value is the host's node id and its session id
 *   is the singleton's fencing token (see host.ts for a host's states);
 * - an EtcdLeaderRetrieval on every node, which points the proxy at the current host
 *   (see proxy.ts for buffering during a handover).
 * Every node also runs a gate actor, `singleton-gate.<g>`, that admits a proxy's message
 * to a local instance only under the current token (protocol.ts).
 */
import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { fromCallback, type AnyActorLogic, type EventFromLogic } from 'xstate';
import { replyError, type ActorRef } from '../actor/ref.js';
import type { ActorSystem } from '../actor/system.js';
import { ErrorCode, RuntimeError } from '../errors.js';
import { createEtcdClient, haRoot, type EtcdClientOptions } from '../ha/etcd-client.js';
import { DEFAULT_LEASE_TTL_SECONDS, EtcdLeaderElection } from '../ha/etcd-election.js';
import { EtcdLeaderRetrieval } from '../ha/etcd-retrieval.js';
import { monotonicClock, type Clock } from '../ha/util.js';
import type { Logger } from '../logging.js';
import { SingletonClosedError, SingletonNotHostError, type SingletonUnavailableError } from './errors.js';
import { HostState, SingletonHost, type SingletonEvents, type SingletonOptions } from './host.js';
import { gateName, type GateMessage } from './protocol.js';
import { SingletonProxy, SingletonRef } from './proxy.js';

export interface SingletonManagerOptions {
  /** An etcd client (not closed by the manager) or how to create one (closed on `close()`). */
  etcd: Etcd3 | EtcdClientOptions;
  /** The group: nodes of one group share its singletons. */
  group: string;
  /** Lease TTL of each singleton's election (default 3 s): the bound on detecting a dead host. */
  leaseTtlSeconds?: number;
  /** How long a message may wait for a host before it fails with SINGLETON_UNAVAILABLE (default 10 s). */
  handoverTimeoutMs?: number;
  /** Messages a proxy (and a starting host) holds during a handover (default 10 000). */
  bufferSize?: number;
  /** Time and timers of the elections, handovers and retries (monotonic real time by default). */
  clock?: Clock;
  log?: Logger;
}

interface Entry {
  proxy: SingletonProxy;
  ref: SingletonRef<any>;
  retrieval: EtcdLeaderRetrieval;
  host: SingletonHost | null;
}

/**
 * @example
 * ```ts
 * const system = await ActorSystem.start({ clusterId: 'svc', secret });
 * const singletons = new SingletonManager(system, { etcd: { endpoints }, group: 'svc', leaseTtlSeconds: 3 });
 * const limiter = singletons.start('limiter', limiterMachine, {
 *   persistence: { store: new EtcdSnapshotStore({ root: client.namespace(haRoot('svc')) }) },
 * });
 * const verdict = await limiter.ask({ type: 'limiter.take', key: 'alice' });  // wherever it runs
 * await singletons.close();   // hands over at once if this node hosts it
 * ```
 */
export class SingletonManager {
  readonly events = new EventEmitter<SingletonEvents>();
  readonly group: string;
  private readonly client: Etcd3;
  private readonly ownsClient: boolean;
  private readonly options: SingletonManagerOptions;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly entries = new Map<string, Entry>();
  private readonly gate: ActorRef<GateMessage>;
  private readonly onNodeDown = (node: string): void => this.entries.forEach((e) => e.proxy.nodeDown(node));
  private readonly onNodeUp = (node: string): void => this.entries.forEach((e) => e.proxy.nodeUp(node));
  private closed = false;

  constructor(
    private readonly system: ActorSystem,
    options: SingletonManagerOptions,
  ) {
    this.options = options;
    this.group = options.group;
    this.log = (options.log ?? system.log).child({ group: options.group });
    this.clock = options.clock ?? monotonicClock;
    this.ownsClient = !('namespace' in options.etcd);
    this.client = 'namespace' in options.etcd ? options.etcd : createEtcdClient(options.etcd);
    this.gate = system.spawn(gateName(options.group), gateLogic, { input: { handle: (m: GateMessage) => this.onGateMessage(m) } });
    system.events.on('node.down', this.onNodeDown);
    system.events.on('node.up', this.onNodeUp);
  }

  /**
   * Contend for hosting singleton `name` on this node (unless `options.host === false`) and
   * return its proxy. Typed like `spawn`: the ref accepts the machine's events.
   */
  start<L extends AnyActorLogic>(name: string, logic: L, options: SingletonOptions<L> = {}): SingletonRef<EventFromLogic<L>> {
    const entry = this.entry(name);
    if (entry.host) throw new RuntimeError(ErrorCode.ActorNameTaken, `singleton '${name}' is already started here`);
    if (options.host === false) return entry.ref;
    const root = this.client.namespace(this.singletonRoot(name));
    entry.host = new SingletonHost({
      system: this.system,
      singleton: name,
      logic,
      options: options as SingletonOptions<AnyActorLogic>,
      election: new EtcdLeaderElection({ root, leaseTtlSeconds: this.options.leaseTtlSeconds ?? DEFAULT_LEASE_TTL_SECONDS, clock: this.clock, log: this.log }),
      clock: this.clock,
      root,
      defaultKey: `singleton/${this.group}/${name}`,
      bufferSize: this.options.bufferSize ?? 10_000,
      events: this.events,
      log: this.log,
      refuse: (m) => this.refuse(m),
    });
    entry.host.campaign();
    return entry.ref;
  }

  /** A proxy to singleton `name` without hosting it here (clients, workers). */
  proxy<M>(name: string): SingletonRef<M> {
    return this.entry(name).ref as SingletonRef<M>;
  }

  /** This node's part in hosting `name`: standby, starting, active or stopping. */
  hostState(name: string): HostState {
    return this.entries.get(name)?.host?.state ?? HostState.Standby;
  }

  /**
   * Hand over every singleton hosted here (stop, last fenced save, resign: the next host
   * starts at once), fail what the proxies still hold, stop the gate.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.system.events.off('node.down', this.onNodeDown);
    this.system.events.off('node.up', this.onNodeUp);
    await Promise.all(
      [...this.entries.values()].map(async (e) => {
        e.proxy.close();
        await Promise.all([e.host?.close(), e.retrieval.close()]);
      }),
    );
    try {
      this.system.stop(this.gate);
    } catch {
      // The system terminated first.
    }
    if (this.ownsClient) this.client.close();
  }

  private entry(name: string): Entry {
    if (this.closed) throw new SingletonClosedError(this.group);
    const existing = this.entries.get(name);
    if (existing) return existing;
    const proxy = new SingletonProxy({
      system: this.system,
      group: this.group,
      singleton: name,
      gate: this.gate,
      handoverTimeoutMs: this.options.handoverTimeoutMs ?? 10_000,
      bufferSize: this.options.bufferSize ?? 10_000,
      clock: this.clock,
      log: this.log,
      onUndeliverable: (singleton, message, error) => this.undeliverable(singleton, message, error),
    });
    const retrieval = new EtcdLeaderRetrieval({ root: this.client.namespace(this.singletonRoot(name)), resyncMs: 500, clock: this.clock, log: this.log });
    const entry: Entry = { proxy, ref: new SingletonRef(proxy, this.group, name), retrieval, host: null };
    this.entries.set(name, entry);
    retrieval.start((leader) => proxy.setLeader(leader));
    return entry;
  }

  private singletonRoot(name: string): string {
    return `${haRoot(this.group)}singletons/${encodeURIComponent(name)}/`;
  }

  private onGateMessage(message: GateMessage): void {
    switch (message.type) {
      case 'singleton.tell':
      case 'singleton.ask': {
        const host = this.entries.get(message.singleton)?.host;
        if (host) host.accept(message);
        else this.refuse(message);
        return;
      }
      case 'singleton.bounced':
        this.entries.get(message.singleton)?.proxy.bounced(message.token, message.message, message.since);
        return;
    }
  }

  private refuse(message: Extract<GateMessage, { type: 'singleton.tell' | 'singleton.ask' }>): void {
    try {
      if (message.type === 'singleton.ask') {
        replyError(message.replyTo, new SingletonNotHostError(message.singleton, message.token, this.system.node));
      } else {
        message.from.tell({ type: 'singleton.bounced', singleton: message.singleton, token: message.token, message: message.message, since: message.since });
      }
    } catch (err) {
      this.log.debug({ err }, 'refused message not returned; its sender is unreachable');
    }
  }

  private undeliverable(singleton: string, message: unknown, error: SingletonUnavailableError): void {
    const type = (message as { type?: unknown } | null)?.type;
    const messageType = typeof type === 'string' ? type : typeof message;
    this.log.warn({ singleton, messageType, err: error }, 'singleton message undeliverable');
    this.events.emit('singleton.undeliverable', singleton, messageType, error);
  }
}

/** The gate: every message goes to the manager, one at a time, on the gate's mailbox. */
const gateLogic = fromCallback<GateMessage, { handle(message: GateMessage): void }>(({ receive, input }) => {
  receive((message) => input.handle(message));
});
