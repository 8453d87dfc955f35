/**
 * ActorRef: the address of an actor, local or remote, with the same API either way. A ref can
 * travel inside a message; the receiving system binds it to itself on decode.
 */
import type { RuntimeError } from '../errors.js';

/** What every actor message looks like: a discriminated union on `type`. */
export interface Message {
  readonly type: string;
}

/** A message that asks for a reply carries the ref to reply to. */
export interface Request<R> {
  readonly replyTo: ActorRef<R>;
}

/** The members of protocol `M` that can be sent with `ask`. */
export type AskableType<M> = Extract<M, { replyTo: ActorRef<any> }> extends infer A
  ? A extends { type: infer K } ? K & string : never
  : never;

/** The reply type of the member of `M` whose type is `K`. */
export type ReplyOf<M, K extends string> = Extract<M, { type: K }> extends { replyTo: ActorRef<infer R> } ? R : never;

/** What the caller of `ask` writes: the message without `replyTo`, which the runtime fills in. */
export type AskArgument<M, K extends string> = { type: K } & Omit<Extract<M, { type: K }>, 'replyTo' | 'type'>;

export interface AskOptions {
  /** Defaults to the system's `askTimeoutMs`. */
  timeoutMs?: number;
}

export interface SendOptions {
  /** How long to wait for room in a full send queue before failing. */
  timeoutMs?: number;
}

/** The part of the actor system that refs route through. @internal */
export interface RefRouter {
  readonly node: string;
  deliver(target: ActorRef<any>, message: unknown, replyTo: ActorRef<any> | undefined): void;
  ask(target: ActorRef<any>, message: Message, timeoutMs: number | undefined): Promise<unknown>;
  deliverWhenRoom(target: ActorRef<any>, message: unknown, timeoutMs: number | undefined): Promise<void>;
  /** A reply: reported by the router when it cannot be sent, rather than thrown at the replying actor. */
  deliverReply?(target: ActorRef<any>, message: unknown): void;
}

/**
 * The address of an actor. `M` is the protocol it accepts, so that a message of the wrong type
 * is a compile error.
 *
 * @example
 * const counter = system.spawn('counter', counterMachine);
 * counter.tell({ type: 'inc', by: 2 });
 * const n = await counter.ask({ type: 'get' }, { timeoutMs: 1000 }); // typed as the reply of 'get'
 */
export class ActorRef<M = unknown> {
  /** @internal Cached local actor, to skip the registry on the hot path. */
  cell: unknown = undefined;

  constructor(
    readonly node: string,
    readonly name: string,
    /** @internal */
    readonly router: RefRouter,
  ) {}

  /** `name@node`, the form `ActorSystem.refFor` parses. */
  get path(): string {
    return `${this.name}@${this.node}`;
  }

  get isLocal(): boolean {
    return this.node === this.router.node;
  }

  /** Fire and forget. Throws at once when the message cannot even be queued (peer unreachable, queue full). */
  tell(message: M): void {
    this.router.deliver(this, message, undefined);
  }

  /**
   * Send a message and wait for the reply. The runtime sets the message's `replyTo`; the actor
   * answers with `reply(event.replyTo, value)`. Rejects with `AskTimeoutError` (code ASK_TIMEOUT)
   * after the timeout, `DeadLetterError` if no such actor exists, `PeerUnreachableError` if the
   * connection is lost first, or the error the actor replied with.
   */
  ask<K extends AskableType<M>>(message: AskArgument<M, K>, options: AskOptions = {}): Promise<ReplyOf<M, K>> {
    return this.router.ask(this, message, options.timeoutMs) as Promise<ReplyOf<M, K>>;
  }

  /** Like `tell`, but when the send queue is full it waits for room (up to the timeout) instead of throwing. */
  send(message: M, options: SendOptions = {}): Promise<void> {
    return this.router.deliverWhenRoom(this, message, options.timeoutMs);
  }

  equals(other: ActorRef<unknown>): boolean {
    return other.node === this.node && other.name === this.name;
  }

  toString(): string {
    return `ActorRef(${this.path})`;
  }

  toJSON(): string {
    return this.path;
  }
}

/** The message an asked actor sends to fail the ask; see `replyError`. */
export interface AskFailure {
  readonly type: 'actor.ask.failure';
  readonly error: { code: string; message: string; details?: Record<string, unknown> };
}

export function isAskFailure(value: unknown): value is AskFailure {
  return typeof value === 'object' && value !== null && (value as AskFailure).type === 'actor.ask.failure';
}

/** Answer an ask. A no-op when the message was told rather than asked (no `replyTo`). */
export function reply<R>(replyTo: ActorRef<R> | undefined, value: R): void {
  if (replyTo) sendReply(replyTo, value);
}

/**
 * The asker's node may be gone, or be one a stranger named: that is no fault of the actor that
 * answers, so the router reports an undeliverable reply instead of throwing into the actor.
 */
function sendReply(replyTo: ActorRef<any>, message: unknown): void {
  if (replyTo.router.deliverReply) replyTo.router.deliverReply(replyTo, message);
  else replyTo.tell(message);
}

/** Fail an ask: the asker's promise rejects with an error carrying `err`'s code and message. */
export function replyError(replyTo: ActorRef<any> | undefined, err: RuntimeError | Error): void {
  if (!replyTo) return;
  const code = (err as RuntimeError).code ?? 'REMOTE_FAILURE';
  const details = (err as RuntimeError).details;
  const failure: AskFailure = { type: 'actor.ask.failure', error: { code, message: err.message, ...(details ? { details: { ...details } } : {}) } };
  sendReply(replyTo, failure);
}
