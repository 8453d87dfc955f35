/**
 * A singleton's proxy on one node: an ActorRef whose tell/ask/send route to the gate of the
 * node that hosts the singleton now (LeaderRetrieval: the leader's address is its node id),
 * tagged with the host's fencing token.
 *
 * While no host is known, the host's node is down, or the host refused the token (it has
 * not started yet, or its term is over), messages wait in a bounded buffer, in order, and
 * are retried with a short backoff. A message that waits longer than `handoverTimeoutMs`
 * fails with SINGLETON_UNAVAILABLE: an ask or send rejects, a tell is reported
 * (`onUndeliverable`). A full buffer fails a message at once, the same way.
 *
 * Delivery is at most once. A message already handed to a host that then dies is not
 * retried (it may have been processed): an ask in flight rejects with PEER_UNREACHABLE.
 * Order holds between two messages of one sender except across a handover, where a
 * bounced tell is retried behind newer ones.
 */
import { ActorRef, type Message, type RefRouter } from '../actor/ref.js';
import type { ActorSystem } from '../actor/system.js';
import { ErrorCode, type RuntimeError } from '../errors.js';
import type { LeaderInfo } from '../ha/types.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../logging.js';
import { SingletonErrorCode, SingletonUnavailableError } from './errors.js';
import { gateName, type GateMessage } from './protocol.js';

export interface ProxyDeps {
  system: ActorSystem;
  group: string;
  singleton: string;
  /** This node's gate, where bounced tells come back. */
  gate: ActorRef<GateMessage>;
  handoverTimeoutMs: number;
  bufferSize: number;
  clock: Clock;
  log: Logger;
  onUndeliverable(singleton: string, message: unknown, error: SingletonUnavailableError): void;
}

interface Pending {
  kind: 'tell' | 'ask';
  message: unknown;
  /** When it was first sent: the handover deadline counts from here, across retries. */
  since: number;
  timer: TimerHandle | undefined;
  askTimeoutMs?: number | undefined;
  resolve?: (value: unknown) => void;
  reject?: (err: Error) => void;
}

const MAX_RETRY_DELAY_MS = 500;

/**
 * The ref that every node uses to reach a singleton; `tell`, `ask` and `send` as on any
 * ActorRef. Its path is `name@singleton:<group>`. It is a handle of one node: to give
 * another node access, make a proxy there (`manager.proxy(name)`), don't send this one.
 *
 * @example
 * ```ts
 * const limiter = manager.start('limiter', limiterMachine);   // or manager.proxy<LimiterMessage>('limiter')
 * const verdict = await limiter.ask({ type: 'limiter.take', key: 'alice' }, { timeoutMs: 1000 });
 * console.log(limiter.host, limiter.token);                  // where it runs now, and its term
 * ```
 */
export class SingletonRef<M = unknown> extends ActorRef<M> {
  constructor(
    private readonly proxy: SingletonProxy,
    group: string,
    singleton: string,
  ) {
    super(`singleton:${group}`, singleton, proxy);
  }

  /** The node that hosts the singleton as far as this node knows, or null. */
  get host(): string | null {
    return this.proxy.current()?.node ?? null;
  }

  /** The fencing token of the host's term, or null. */
  get token(): string | null {
    return this.proxy.current()?.token ?? null;
  }

  /** Messages waiting for a host. */
  get buffered(): number {
    return this.proxy.buffered;
  }
}

/** @internal The router behind a SingletonRef. */
export class SingletonProxy implements RefRouter {
  readonly node: string;
  private route: { node: string; token: string } | null = null;
  private readonly down = new Set<string>();
  private readonly buffer: Pending[] = [];
  private holdUntil = 0;
  private retryDelayMs = 0;
  private flushTimer: TimerHandle | undefined;
  private closed = false;

  constructor(private readonly deps: ProxyDeps) {
    this.node = deps.system.node;
  }

  current(): { node: string; token: string } | null {
    return this.route;
  }

  get buffered(): number {
    return this.buffer.length;
  }

  /** From LeaderRetrieval: a new host (or none). */
  setLeader(leader: LeaderInfo | null): void {
    const next = leader ? { node: leader.address, token: leader.sessionId } : null;
    if (next?.token !== this.route?.token) {
      this.holdUntil = 0;
      this.retryDelayMs = 0;
      // A node that just won an election is alive, whatever its last connection did.
      if (next) this.down.delete(next.node);
    }
    this.route = next;
    this.flush();
  }

  nodeDown(node: string): void {
    this.down.add(node);
  }

  nodeUp(node: string): void {
    if (this.down.delete(node)) this.flush();
  }

  /** A tell came back from a node that does not host `token`. */
  bounced(token: string, message: unknown, since: number): void {
    if (this.route?.token === token) this.hold();
    this.enqueue({ kind: 'tell', message, since, timer: undefined });
    this.flush();
  }

  // ---- RefRouter ----

  deliver(_target: ActorRef<any>, message: unknown): void {
    const now = this.deps.clock.now();
    if (this.buffer.length === 0 && this.routable() && this.sendTell(message, now)) return;
    this.enqueue({ kind: 'tell', message, since: now, timer: undefined }, true);
  }

  ask(_target: ActorRef<any>, message: Message, timeoutMs: number | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const entry: Pending = { kind: 'ask', message, since: this.deps.clock.now(), timer: undefined, askTimeoutMs: timeoutMs, resolve, reject };
      if (this.buffer.length === 0 && this.routable()) this.sendAsk(entry);
      else this.enqueue(entry, true);
    });
  }

  async deliverWhenRoom(target: ActorRef<any>, message: unknown, timeoutMs: number | undefined): Promise<void> {
    try {
      this.deliver(target, message);
    } catch (err) {
      const route = this.route;
      if ((err as RuntimeError).code !== ErrorCode.SendQueueFull || !route) throw err;
      await this.gateOf(route.node).send(this.tellEnvelope(message, route.token, this.deps.clock.now()), { timeoutMs });
    }
  }

  /** Fail everything still waiting. */
  close(): void {
    this.closed = true;
    this.clearTimer(this.flushTimer);
    for (const entry of this.buffer.splice(0)) {
      this.clearTimer(entry.timer);
      this.fail(entry, new SingletonUnavailableError(this.deps.singleton, 'closed', this.deps.clock.now() - entry.since));
    }
  }

  // ---- internals ----

  private routable(): boolean {
    return !this.closed && this.route !== null && !this.down.has(this.route.node) && this.deps.clock.now() >= this.holdUntil;
  }

  private gateOf(node: string): ActorRef<GateMessage> {
    return this.deps.system.ref<GateMessage>(node, gateName(this.deps.group));
  }

  private tellEnvelope(message: unknown, token: string, since: number): GateMessage {
    return { type: 'singleton.tell', singleton: this.deps.singleton, token, message, from: this.deps.gate, since };
  }

  /** False when the host's node turned out unreachable (the message stays ours). */
  private sendTell(message: unknown, since: number): boolean {
    const route = this.route!;
    try {
      this.gateOf(route.node).tell(this.tellEnvelope(message, route.token, since));
      return true;
    } catch (err) {
      if ((err as RuntimeError).code !== ErrorCode.PeerUnreachable) throw err;
      this.down.add(route.node);
      return false;
    }
  }

  private sendAsk(entry: Pending): void {
    const route = this.route!;
    const envelope = { type: 'singleton.ask' as const, singleton: this.deps.singleton, token: route.token, message: entry.message };
    this.gateOf(route.node)
      .ask(envelope, { timeoutMs: entry.askTimeoutMs })
      .then(entry.resolve, (err: RuntimeError) => {
        if (err.code === SingletonErrorCode.NotHost) {
          // Not processed: safe to send again, to whoever hosts that term or the next.
          if (this.route?.token === route.token) this.hold();
          this.enqueue(entry);
          this.flush();
          return;
        }
        if (err.code === ErrorCode.PeerUnreachable) this.down.add(route.node);
        entry.reject!(err);
      });
  }

  /** `fresh`: a message being sent now, rather than one coming back for a retry. */
  private enqueue(entry: Pending, fresh = false): void {
    const left = this.deps.handoverTimeoutMs - (this.deps.clock.now() - entry.since);
    if (this.closed || this.buffer.length >= this.deps.bufferSize || left <= 0) {
      const reason = this.closed ? 'closed' : left <= 0 ? 'handover-timeout' : 'buffer-full';
      const err = new SingletonUnavailableError(this.deps.singleton, reason, this.deps.clock.now() - entry.since);
      // A tell fails in the caller's stack when it can; a retried one can only be reported.
      if (entry.kind === 'tell' && fresh) throw err;
      this.fail(entry, err);
      return;
    }
    entry.timer = this.deps.clock.setTimeout(() => this.expire(entry), left);
    this.buffer.push(entry);
  }

  private expire(entry: Pending): void {
    const i = this.buffer.indexOf(entry);
    if (i < 0) return;
    this.buffer.splice(i, 1);
    this.fail(entry, new SingletonUnavailableError(this.deps.singleton, 'handover-timeout', this.deps.clock.now() - entry.since));
  }

  private fail(entry: Pending, err: SingletonUnavailableError): void {
    if (entry.kind === 'ask') entry.reject!(err);
    else this.deps.onUndeliverable(this.deps.singleton, entry.message, err);
  }

  private hold(): void {
    this.retryDelayMs = Math.min(MAX_RETRY_DELAY_MS, Math.max(25, this.retryDelayMs * 2));
    this.holdUntil = this.deps.clock.now() + this.retryDelayMs;
  }

  private clearTimer(timer: TimerHandle | undefined): void {
    if (timer !== undefined) this.deps.clock.clearTimeout(timer);
  }

  private flush(): void {
    this.clearTimer(this.flushTimer);
    this.flushTimer = undefined;
    while (this.buffer.length > 0 && this.routable()) {
      const entry = this.buffer[0]!;
      if (entry.kind === 'tell' && !this.sendTell(entry.message, entry.since)) break;
      this.buffer.shift();
      this.clearTimer(entry.timer);
      entry.timer = undefined;
      if (entry.kind === 'ask') this.sendAsk(entry);
    }
    const wait = this.holdUntil - this.deps.clock.now();
    if (this.buffer.length > 0 && wait > 0 && !this.closed) this.flushTimer = this.deps.clock.setTimeout(() => this.flush(), wait);
  }
}
