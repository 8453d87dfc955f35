/**
 * ActorSystem: hosts local actors (xstate machines) and connects them to actors in other
 * systems over the transport. One per process is usual; several are fine (tests, embedding).
 */
import { EventEmitter } from 'node:events';
import type { AnyActorLogic, EventFromLogic, InputFrom } from 'xstate';
import {
  AskTimeoutError,
  DeadLetterError,
  ErrorCode,
  PeerUnreachableError,
  RuntimeError,
  UnhandledInStateError,
  fromWireError,
  toWireError,
  type WireError,
} from '../errors.js';
import { createLogger, forActor, type Logger } from '../logging.js';
import { LogThrottle } from '../util/log-throttle.js';
import { Transport, type PeerLossReason, type TransportHandlers } from '../transport/transport.js';
import { EnvelopeKind, type Backlog, type Envelope, type TerminationReason } from '../transport/protocol.js';
import { ActorCell } from './cell.js';
import { createWireCodec } from './codec.js';
import type { ActorTerminated, WatchNotice, Watcher } from './notices.js';
import { resolveOptions, type ActorSystemOptions, type ResolvedOptions, type SystemTransport } from './options.js';
import { ActorRef, isAskFailure, replyError, type Message, type RefRouter } from './ref.js';
import type { SupervisionPolicy } from './supervision.js';
import { clientEnvelopeProblem } from './client-gate.js';
import { ClientForbiddenError } from '../transport/errors.js';
import { Role } from '../transport/handshake.js';
import type { Clock, TimerHandle } from '../util/clock.js';

/** What a spawned actor's machine can be given to reach the runtime. */
export interface ActorEnv {
  self: ActorRef<any>;
  system: ActorSystem;
  log: Logger;
  /** The system's clock: an actor reads the time and arms timers through it, never Date.now()/setTimeout. */
  clock: Clock;
}

export interface SpawnOptions<L extends AnyActorLogic> {
  /** The machine's input; a function receives the actor's own ref, the system and a logger. */
  input?: InputFrom<L> | ((env: ActorEnv) => InputFrom<L>);
  supervision?: Partial<SupervisionPolicy>;
  /**
   * Message types that only this process may send to the actor (leadership, shutdown, its own
   * steps): from the network they are refused whatever their content, counted as dead letters.
   * Each actor's protocol module declares its list next to its messages.
   */
  localOnly?: readonly string[];
  /**
   * A message that the actor's current state does not accept (its machine takes no transition
   * for it) is a dead letter, and an ask gets UNHANDLED_IN_STATE at once, instead of xstate
   * dropping it silently and the asker waiting for its timeout.
   */
  reportUnhandled?: boolean;
}

/** Membership and delivery events of a system. */
export interface SystemEvents {
  'node.up': [node: string];
  'node.down': [node: string, reason: PeerLossReason, detail: string];
  'dead-letter': [letter: DeadLetter];
}

export interface DeadLetter {
  target: string;
  messageType: string;
  reason: string;
}

interface PendingAsk {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: TimerHandle;
  targetNode: string;
  /** When it was asked and how long it may wait (the simulator checks that none outlives it). */
  since: number;
  timeoutMs: number;
}

const ASK_PREFIX = '$ask/';

/** A cell that counts the messages delivered to its mailbox, for the per-actor message metric. */
class CountedCell extends ActorCell {
  /** A plain integer add on the delivery path: no allocation, no label lookup per message. */
  delivered = 0;
  /** Types refused when they come from another node. */
  localOnly: ReadonlySet<string> = NO_TYPES;
}

const NO_TYPES: ReadonlySet<string> = new Set();

/** Lines about refusals a stranger can provoke at will: at most one per kind this often. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * @example
 * const system = await ActorSystem.start({ clusterId: 'demo', secret: 'a-long-shared-secret' });
 * const counter = system.spawn('counter', counterMachine);
 * counter.tell({ type: 'inc' });
 * console.log(await counter.ask({ type: 'get' }));
 * await system.terminate();
 */
export class ActorSystem implements RefRouter {
  /** The system's logger; every line carries `node` (and `actor` for an actor's lines). */
  log: Logger;
  /** Time and timers of this system's actors (see ActorSystemOptions.clock). */
  readonly clock: Clock;
  readonly events = new EventEmitter<SystemEvents>();
  private readonly options: ResolvedOptions;
  private readonly transport: SystemTransport;
  private readonly cells = new Map<string, CountedCell>();
  /** Messages delivered to actors that have stopped, by name: the counts stay monotonic. */
  private readonly retiredDeliveries = new Map<string, number>();
  private readonly asks = new Map<number, PendingAsk>();
  private readonly asksPerNode = new Map<string, number>();
  private nextAskId = 1;
  /** Watches on actors of other nodes: node → actor name → watchers. */
  private readonly remoteWatches = new Map<string, Map<string, Set<Watcher>>>();
  /** Other nodes that watch our actors: actor name → nodes. */
  private readonly remoteWatchers = new Map<string, Set<string>>();
  /** Watchers of our own actors: actor name → watchers. */
  private readonly localWatchers = new Map<string, Set<Watcher>>();
  private readonly upNodes = new Set<string>();
  private deadLetterCount = 0;
  private terminated = false;
  private readonly refusalLog = new LogThrottle(REFUSAL_LOG_INTERVAL_MS, () => this.clock.now());

  static async start(options: ActorSystemOptions): Promise<ActorSystem> {
    const system = new ActorSystem(resolveOptions(options));
    await system.transport.start();
    // The node id is known only once listening.
    system.log = system.log.child({ node: system.node });
    system.transport.log = system.log;
    system.log.debug({ listen: system.options.listen, bind: system.options.host }, 'actor system started');
    return system;
  }

  private constructor(options: ResolvedOptions) {
    this.options = options;
    this.clock = options.clock;
    this.log = options.logger ?? createLogger({ name: options.name });
    const codec = createWireCodec((node, name) => this.ref(node, name));
    const handlers: TransportHandlers = {
        onEnvelope: (from, envelope, role) => {
          if (role === Role.Client && !this.clientMayDeliver(from, envelope)) return;
          return this.onEnvelope(from, envelope);
        },
        onPeerUp: (node) => {
          this.upNodes.add(node);
          this.events.emit('node.up', node);
        },
        onPeerLost: (node, reason, detail, refusal) => this.onPeerLost(node, reason, detail, refusal),
        onUndeliverable: (node, messages, reason) => {
          this.deadLetterCount += messages;
          this.events.emit('dead-letter', { target: `*@${node}`, messageType: `${messages} queued messages`, reason });
        },
    };
    this.transport = options.transport
      ? options.transport(codec, handlers, this.log)
      : new Transport({ ...options, cluster: options.clusterId }, codec, handlers, this.log);
  }

  /** This node's id, `host:port` (or a client id when not listening). */
  get node(): string {
    return this.transport.node;
  }

  /** This process's incarnation: the uid its handshakes announce (a restart on the same port has another). */
  get instance(): string {
    return this.transport.uid;
  }

  /** The handshake-verified incarnation of `node` while connected to it, else null. */
  peerInstance(node: string): string | null {
    return this.transport.peerUid(node);
  }

  /** Peers the transport keeps state for now (connected, connecting, or with messages queued). */
  get associations(): number {
    return this.transport.associationCount;
  }

  /** Asks still waiting for a reply at `now` longer than their timeout allows (none, unless a timer was lost). */
  overdueAsks(now: number): number {
    let overdue = 0;
    for (const pending of this.asks.values()) if (now > pending.since + pending.timeoutMs) overdue++;
    return overdue;
  }

  /** Messages that found no recipient so far. */
  get deadLetters(): number {
    return this.deadLetterCount;
  }

  /**
   * Start an actor under `name` (unique in this system). Returns its ref, typed by the
   * machine's events.
   */
  spawn<L extends AnyActorLogic>(name: string, logic: L, options: SpawnOptions<L> = {}): ActorRef<EventFromLogic<L>> {
    if (this.terminated) throw new RuntimeError(ErrorCode.SystemTerminated, 'the actor system is terminated');
    if (!name || name.startsWith('$') || name.includes('@')) {
      throw new RuntimeError(ErrorCode.InvalidArgument, `invalid actor name '${name}': non-empty, no '@', not starting with '$'`);
    }
    if (this.cells.has(name)) throw new RuntimeError(ErrorCode.ActorNameTaken, `an actor named '${name}' already runs here`);
    const ref = new ActorRef<EventFromLogic<L>>(this.node, name, this);
    const log = forActor(this.log, name);
    const input =
      typeof options.input === 'function'
        ? (options.input as (env: ActorEnv) => InputFrom<L>)({ self: ref, system: this, log, clock: this.clock })
        : options.input;
    const cell = new CountedCell(
      ref,
      logic,
      input,
      { ...this.options.supervision, ...options.supervision },
      {
        onStopped: (c, reason, error) => this.onCellStopped(c, reason, error),
        onRestarted: (c, error) => this.notifyWatchers(c.name, { type: 'actor.restarted', ref: c.ref, error }),
        onUndelivered: (c, message) => this.deadLetter(c.name, message, 'actor stopped'),
        onUnhandled: (c, message, state) =>
          this.deadLetter(c.name, message, `not accepted in state ${state}`, undefined, new UnhandledInStateError(`${c.name}@${this.node}`, state, messageType(message))),
      },
      log,
      this.clock,
      this.options.inspect ? (event) => this.options.inspect!(name, event) : undefined,
    );
    if (options.localOnly?.length) cell.localOnly = new Set(options.localOnly);
    if (options.reportUnhandled) cell.reportUnhandled = true;
    this.cells.set(name, cell);
    ref.cell = cell;
    return ref;
  }

  /** A ref to actor `name` on `node` (this node's id for a local actor). */
  ref<M = unknown>(node: string, name: string): ActorRef<M> {
    return new ActorRef<M>(node, name, this);
  }

  /** Parse `name@host:port`. */
  refFor<M = unknown>(path: string): ActorRef<M> {
    const at = path.indexOf('@');
    if (at <= 0 || at === path.length - 1) {
      throw new RuntimeError(ErrorCode.InvalidArgument, `invalid actor path '${path}': expected name@host:port`);
    }
    return this.ref<M>(path.slice(at + 1), path.slice(0, at));
  }

  /**
   * Messages delivered to each local actor's mailbox since this system started, by actor name
   * (stopped actors included). Read at scrape time by the metrics, never per message.
   */
  messageCounts(): Map<string, number> {
    const counts = new Map(this.retiredDeliveries);
    for (const [name, cell] of this.cells) counts.set(name, (counts.get(name) ?? 0) + cell.delivered);
    return counts;
  }

  /** Stop a local actor; its watchers are told. */
  stop(ref: ActorRef<any>): void {
    if (!ref.isLocal) throw new RuntimeError(ErrorCode.InvalidArgument, `cannot stop remote actor ${ref.path}`);
    this.cells.get(ref.name)?.stop('stopped');
  }

  /** The current xstate snapshot of a local actor, or undefined if it does not run here. */
  snapshotOf(ref: ActorRef<any>): unknown {
    return ref.isLocal ? this.cells.get(ref.name)?.getSnapshot() : undefined;
  }

  /**
   * Be told when `target` stops, fails and restarts, or becomes unreachable (its node's
   * connection lost or heartbeats timed out). Returns a function that ends the watch.
   */
  watch(target: ActorRef<any>, watcher: Watcher): () => void {
    if (target.isLocal) {
      if (!this.cells.has(target.name)) {
        queueMicrotask(() => notify(watcher, { type: 'actor.terminated', ref: target, reason: 'not-found' }));
        return () => {};
      }
      addTo(this.localWatchers, target.name, watcher);
      return () => removeFrom(this.localWatchers, target.name, watcher);
    }
    let byName = this.remoteWatches.get(target.node);
    if (!byName) this.remoteWatches.set(target.node, (byName = new Map()));
    const first = !byName.has(target.name);
    addTo(byName, target.name, watcher);
    if (first) {
      try {
        this.transport.send(target.node, [EnvelopeKind.Watch, target.name]);
      } catch (err) {
        byName.delete(target.name);
        queueMicrotask(() =>
          notify(watcher, { type: 'actor.terminated', ref: target, reason: 'connection-lost', error: toWireError(err) }),
        );
      }
    }
    return () => {
      const watchers = byName.get(target.name);
      if (!watchers?.delete(watcher) || watchers.size > 0) return;
      byName.delete(target.name);
      try {
        this.transport.send(target.node, [EnvelopeKind.Unwatch, target.name]);
      } catch {
        // Unreachable: its watch ends with the connection anyway.
      }
    };
  }

  /** Stop every actor, tell the watchers, close every connection. */
  async terminate(): Promise<void> {
    if (this.terminated) return;
    this.terminated = true;
    for (const cell of [...this.cells.values()]) cell.stop('system-terminated');
    for (const [id, pending] of this.asks) {
      this.clock.clearTimeout(pending.timer);
      pending.reject(new RuntimeError(ErrorCode.SystemTerminated, 'the actor system terminated before the reply'));
      this.removeAsk(id, pending);
    }
    await this.transport.stop();
  }

  // ---- RefRouter: the paths every tell and ask take ----

  /** @internal */
  deliver(target: ActorRef<any>, message: unknown, replyTo: ActorRef<any> | undefined): void {
    if (target.node === this.node) {
      this.deliverLocal(target, message, replyTo);
      return;
    }
    this.transport.send(
      target.node,
      replyTo ? [EnvelopeKind.Tell, target.name, message, replyTo] : [EnvelopeKind.Tell, target.name, message],
    );
  }

  /** @internal */
  ask(target: ActorRef<any>, message: Message, timeoutMs: number | undefined): Promise<unknown> {
    const timeout = timeoutMs ?? this.options.askTimeoutMs;
    const tooMany = this.askLimitProblem(target.node);
    if (tooMany) return Promise.reject(new RuntimeError(ErrorCode.TooManyPendingAsks, tooMany, { details: { target: target.path } }));
    const id = this.nextAskId++;
    const replyTo = new ActorRef(this.node, ASK_PREFIX + id, this);
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.removeAsk(id, pending);
        reject(new AskTimeoutError(target.path, messageType(message), timeout));
      }, timeout);
      const pending: PendingAsk = { resolve, reject, timer, targetNode: target.node, since: this.clock.now(), timeoutMs: timeout };
      this.asks.set(id, pending);
      this.asksPerNode.set(target.node, (this.asksPerNode.get(target.node) ?? 0) + 1);
      try {
        this.deliver(target, { ...message, replyTo }, replyTo);
      } catch (err) {
        this.clock.clearTimeout(timer);
        this.removeAsk(id, pending);
        reject(err);
      }
    });
  }

  /** @internal A reply is reported when it cannot be sent, never thrown at the actor that answers. */
  deliverReply(target: ActorRef<any>, message: unknown): void {
    try {
      this.deliver(target, message, undefined);
    } catch (err) {
      // The asker vanished, or named a node we cannot or will not reach: its ask ends on its side.
      this.deadLetterCount++;
      const letter: DeadLetter = { target: target.path, messageType: messageType(message), reason: (err as Error).message };
      const pass = this.refusalLog.admit('reply-undeliverable');
      if (pass) this.log.warn({ deadLetter: letter, suppressed: pass.suppressed }, 'reply undeliverable');
      this.events.emit('dead-letter', letter);
    }
  }

  /** Pending asks are bounded in total and per peer, so that no peer's silence makes them pile up. */
  private askLimitProblem(node: string): string | null {
    if (this.asks.size >= this.options.maxPendingAsks) return `${this.asks.size} asks are pending (limit ${this.options.maxPendingAsks})`;
    const toNode = this.asksPerNode.get(node) ?? 0;
    if (toNode >= this.options.maxPendingAsksPerPeer) {
      return `${toNode} asks to node ${node} are pending (limit ${this.options.maxPendingAsksPerPeer} per peer)`;
    }
    return null;
  }

  private removeAsk(id: number, pending: PendingAsk): void {
    if (!this.asks.delete(id)) return;
    const left = (this.asksPerNode.get(pending.targetNode) ?? 1) - 1;
    if (left > 0) this.asksPerNode.set(pending.targetNode, left);
    else this.asksPerNode.delete(pending.targetNode);
  }

  /** @internal */
  async deliverWhenRoom(target: ActorRef<any>, message: unknown, timeoutMs: number | undefined): Promise<void> {
    const timeout = timeoutMs ?? this.options.askTimeoutMs;
    try {
      this.deliver(target, message, undefined);
    } catch (err) {
      if ((err as RuntimeError).code !== ErrorCode.SendQueueFull) throw err;
      await this.transport.waitForRoom(target.node, 0, timeout);
      this.deliver(target, message, undefined);
    }
  }

  private deliverLocal(target: ActorRef<any>, message: unknown, replyTo: ActorRef<any> | undefined): void {
    let cell = target.cell as CountedCell | undefined;
    if (cell === undefined || cell.stopped) {
      cell = this.cells.get(target.name);
      if (!cell) return this.undeliverable(target.name, message, replyTo);
      target.cell = cell;
    }
    cell.delivered++;
    cell.enqueue(message);
  }

  /** The remote path: by name, without making a ref per message. The cell when its mailbox is backlogged. */
  private deliverByName(from: string, name: string, message: unknown, replyTo: ActorRef<any> | undefined): Backlog | undefined {
    const cell = this.cells.get(name);
    if (cell) {
      if (cell.localOnly.size > 0 && cell.localOnly.has(messageType(message))) {
        this.refuseFromNetwork(from, name, message);
        return undefined;
      }
      cell.delivered++;
      // Through the mailbox, never inline: a reply in the same read may have resolved an ask whose
      // continuation (a microtask) must run before this message is processed.
      cell.enqueue(message);
      return cell.backlogged ? cell : undefined;
    }
    this.undeliverable(name, message, replyTo);
    return undefined;
  }

  private undeliverable(name: string, message: unknown, replyTo: ActorRef<any> | undefined): void {
    if (name.startsWith(ASK_PREFIX)) this.completeAsk(name, message);
    else this.deadLetter(name, message, 'no such actor', replyTo);
  }

  private completeAsk(name: string, message: unknown): void {
    const id = Number(name.slice(ASK_PREFIX.length));
    const pending = this.asks.get(id);
    if (!pending) {
      // The ask timed out or its connection was lost first; the late reply has nowhere to go.
      this.deadLetter(name, message, 'reply after the ask ended');
      return;
    }
    this.removeAsk(id, pending);
    this.clock.clearTimeout(pending.timer);
    if (isAskFailure(message)) pending.reject(fromWireError(message.error));
    else pending.resolve(message);
  }

  /**
   * A local-only message that arrived from another node: never delivered, whatever it says. No
   * answer either: its replyTo (if any) names a node the sender chose, not one we owe a reply.
   */
  private refuseFromNetwork(from: string, target: string, message: unknown): void {
    this.deadLetterCount++;
    const letter: DeadLetter = { target, messageType: messageType(message), reason: `local-only message from node ${from}` };
    const pass = this.refusalLog.admit('local-only');
    if (pass) this.log.warn({ deadLetter: letter, from, suppressed: pass.suppressed }, 'refused a local-only message from the network');
    this.events.emit('dead-letter', letter);
  }

  private deadLetter(target: string, message: unknown, reason: string, replyTo?: ActorRef<any>, error?: RuntimeError): void {
    this.deadLetterCount++;
    const letter: DeadLetter = { target, messageType: messageType(message), reason };
    // A late reply is routine (its ask timed out); anything else deserves attention.
    if (target.startsWith(ASK_PREFIX)) this.log.debug({ deadLetter: letter }, 'late reply');
    else {
      const pass = this.refusalLog.admit(error ? 'unhandled' : 'dead-letter');
      if (pass) this.log.warn({ deadLetter: letter, suppressed: pass.suppressed }, 'dead letter');
    }
    this.events.emit('dead-letter', letter);
    // An asker learns at once rather than at its timeout.
    const asker = replyTo ?? (message as { replyTo?: unknown } | null)?.replyTo;
    // (A reply that cannot be sent is itself a dead letter: replyError never throws.)
    if (asker instanceof ActorRef) replyError(asker, error ?? new DeadLetterError(`${target}@${this.node}`, letter.messageType));
  }

  private onEnvelope(from: string, envelope: Envelope): Backlog | undefined {
    switch (envelope[0]) {
      case EnvelopeKind.Tell:
        return this.deliverByName(from, envelope[1], envelope[2], envelope[3] as ActorRef<any> | undefined);
      case EnvelopeKind.Watch:
        if (this.cells.has(envelope[1])) addTo(this.remoteWatchers, envelope[1], from);
        else this.sendQuietly(from, [EnvelopeKind.Terminated, envelope[1], 'not-found']);
        return;
      case EnvelopeKind.Unwatch:
        removeFrom(this.remoteWatchers, envelope[1], from);
        return;
      case EnvelopeKind.Terminated: {
        const byName = this.remoteWatches.get(from);
        const watchers = byName?.get(envelope[1]);
        byName?.delete(envelope[1]);
        const notice: ActorTerminated = { type: 'actor.terminated', ref: this.ref(from, envelope[1]), reason: envelope[2] };
        if (envelope[3]) Object.assign(notice, { error: envelope[3] });
        for (const w of watchers ?? []) notify(w, notice);
        return;
      }
      case EnvelopeKind.Restarted: {
        const watchers = this.remoteWatches.get(from)?.get(envelope[1]);
        const notice: WatchNotice = { type: 'actor.restarted', ref: this.ref(from, envelope[1]), error: envelope[2] };
        for (const w of watchers ?? []) notify(w, notice);
        return;
      }
      case EnvelopeKind.Heartbeat:
        return;
    }
    return undefined;
  }

  /** A client's envelope outside the client protocol is refused and reported, never delivered. */
  private clientMayDeliver(from: string, envelope: Envelope): boolean {
    const problem = clientEnvelopeProblem(from, envelope, this.options.clientProtocol, (id) => this.asks.get(id)?.targetNode === from);
    if (problem === null) return true;
    const target = typeof envelope[1] === 'string' ? envelope[1] : '?';
    const type = envelope[0] === EnvelopeKind.Tell ? messageType(envelope[2]) : `envelope kind ${envelope[0]}`;
    this.deadLetterCount++;
    this.log.warn({ client: from, target, messageType: type, reason: problem }, 'refused a message from a client connection');
    this.events.emit('dead-letter', { target, messageType: type, reason: problem });
    const replyTo = envelope[0] === EnvelopeKind.Tell ? (envelope[3] ?? (envelope[2] as { replyTo?: unknown } | null)?.replyTo) : undefined;
    // Tell the client why, but only the client: never aim an answer where it pointed.
    if (replyTo instanceof ActorRef && replyTo.node === from) {
      try {
        replyError(replyTo, new ClientForbiddenError(target, type));
      } catch {
        // The client is gone.
      }
    }
    return false;
  }

  private onPeerLost(node: string, reason: PeerLossReason, detail: string, refusal?: RuntimeError): void {
    if (this.upNodes.delete(node)) this.events.emit('node.down', node, reason, detail);
    const byName = this.remoteWatches.get(node);
    this.remoteWatches.delete(node);
    const error: WireError = refusal ? toWireError(refusal) : { code: ErrorCode.PeerUnreachable, message: `node ${node}: ${detail}` };
    for (const [name, watchers] of byName ?? []) {
      const notice: ActorTerminated = { type: 'actor.terminated', ref: this.ref(node, name), reason, error };
      for (const w of watchers) notify(w, notice);
    }
    for (const nodes of this.remoteWatchers.values()) nodes.delete(node);
    for (const [id, pending] of this.asks) {
      if (pending.targetNode !== node) continue;
      this.removeAsk(id, pending);
      this.clock.clearTimeout(pending.timer);
      pending.reject(refusal ?? new PeerUnreachableError(node, detail));
    }
  }

  private onCellStopped(cell: ActorCell, reason: TerminationReason, error: WireError | undefined): void {
    this.cells.delete(cell.name);
    const delivered = (cell as CountedCell).delivered;
    if (delivered > 0) this.retiredDeliveries.set(cell.name, (this.retiredDeliveries.get(cell.name) ?? 0) + delivered);
    const notice: ActorTerminated = error
      ? { type: 'actor.terminated', ref: cell.ref, reason, error }
      : { type: 'actor.terminated', ref: cell.ref, reason };
    const watchers = this.localWatchers.get(cell.name);
    this.localWatchers.delete(cell.name);
    for (const w of watchers ?? []) notify(w, notice);
    const nodes = this.remoteWatchers.get(cell.name);
    this.remoteWatchers.delete(cell.name);
    for (const node of nodes ?? []) {
      this.sendQuietly(node, error ? [EnvelopeKind.Terminated, cell.name, reason, error] : [EnvelopeKind.Terminated, cell.name, reason]);
    }
  }

  private notifyWatchers(name: string, notice: WatchNotice): void {
    for (const w of this.localWatchers.get(name) ?? []) notify(w, notice);
    if (notice.type !== 'actor.restarted') return;
    for (const node of this.remoteWatchers.get(name) ?? []) this.sendQuietly(node, [EnvelopeKind.Restarted, name, notice.error]);
  }

  /** For system messages whose loss the connection-loss path already reports. */
  private sendQuietly(node: string, envelope: Envelope): void {
    try {
      this.transport.send(node, envelope);
    } catch (err) {
      this.log.debug({ err, peer: node }, 'system message not sent');
    }
  }
}

function notify(watcher: Watcher, notice: WatchNotice): void {
  if (typeof watcher === 'function') {
    try {
      watcher(notice);
    } catch {
      // A watcher's own fault must not break delivery to the others.
    }
    return;
  }
  try {
    watcher.tell(notice);
  } catch {
    // The watching actor's node is unreachable; it learns of that through its own watches.
  }
}

function messageType(message: unknown): string {
  const type = (message as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : typeof message;
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set?.delete(value) && set.size === 0) map.delete(key);
}
