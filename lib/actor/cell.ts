/**
 * A local actor: an xstate actor behind a mailbox, under supervision. Messages are processed one
 * at a time, never inside the sender's call stack; the mailbox is drained in bounded turns so
 * that a busy actor cannot starve I/O.
 */
import { createActor, type AnyActorLogic, type AnyActorRef, type InspectionEvent } from 'xstate';
import { toWireError, type WireError } from '../errors.js';
import type { Logger } from '../logging.js';
import { RingQueue } from '../util/ring-queue.js';
import type { ActorRef } from './ref.js';
import { decide, type SupervisionPolicy } from './supervision.js';
import type { TerminationReason } from './notices.js';
import type { Clock } from '../util/clock.js';
import type { Backlog } from '../transport/protocol.js';

/** Messages processed per turn before yielding to the event loop. */
const THROUGHPUT = 512;

/**
 * A mailbox this long asks the network to stop reading for it (see Backlog), and reading
 * resumes once it is down to the low mark. Without it a fast peer fills the mailbox with
 * everything it sends, every message then outlives the young generation, and the garbage
 * collector costs more than the receiving path; the slack between the marks keeps the socket
 * from pausing and resuming every turn.
 */
export const MAILBOX_HIGH_WATER = 8192;
const MAILBOX_LOW_WATER = 2048;

export interface CellHooks {
  /** Called once when the actor has stopped for good. */
  onStopped(cell: ActorCell, reason: TerminationReason, error: WireError | undefined): void;
  onRestarted(cell: ActorCell, error: WireError): void;
  /** A message left in the mailbox of a stopped actor. */
  onUndelivered(cell: ActorCell, message: unknown): void;
  /** A message that the machine's current state `state` takes no transition for (see `reportUnhandled`). */
  onUnhandled(cell: ActorCell, message: unknown, state: string): void;
}

export class ActorCell implements Backlog {
  private actor: AnyActorRef;
  private readonly mailbox = new RingQueue<unknown>();
  private scheduled = false;
  private failure: { error: unknown } | null = null;
  private readonly restarts: number[] = [];
  /** Readers paused on this mailbox's backlog (see Backlog). */
  private relievedWaiters: Array<() => void> = [];
  stopped = false;
  /**
   * Check each message against the machine's current state before it is processed: one that no
   * transition takes (xstate would drop it silently) goes to `onUnhandled` instead.
   */
  reportUnhandled = false;

  constructor(
    readonly ref: ActorRef<any>,
    private readonly logic: AnyActorLogic,
    private readonly input: unknown,
    private readonly policy: SupervisionPolicy,
    private readonly hooks: CellHooks,
    readonly log: Logger,
    /** Passed to xstate as its clock: the machine's delayed events and transitions run on it. */
    private readonly clock: Clock,
    /** xstate's inspection of this actor (the simulator's audit); none by default. */
    private readonly inspect?: (event: InspectionEvent) => void,
  ) {
    this.actor = this.startActor();
  }

  get name(): string {
    return this.ref.name;
  }

  /** The xstate actor's current snapshot (for inspection and persistence). */
  getSnapshot(): unknown {
    return this.actor.getSnapshot();
  }

  /** Messages waiting in the mailbox. */
  get queued(): number {
    return this.mailbox.length;
  }

  /** Whether the mailbox holds enough that the network should stop reading for it. */
  get backlogged(): boolean {
    return this.mailbox.length >= MAILBOX_HIGH_WATER;
  }

  whenRelieved(relieved: () => void): void {
    if (this.stopped || this.mailbox.length <= MAILBOX_LOW_WATER) relieved();
    else this.relievedWaiters.push(relieved);
  }

  enqueue(message: unknown): void {
    if (this.stopped) {
      this.hooks.onUndelivered(this, message);
      return;
    }
    this.mailbox.push(message);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.drain);
    }
  }

  stop(reason: TerminationReason = 'stopped', error?: WireError): void {
    if (this.stopped) return;
    this.stopped = true;
    this.scheduled = false;
    this.actor.stop();
    const left = this.mailbox.drain();
    this.hooks.onStopped(this, reason, error);
    for (const message of left) this.hooks.onUndelivered(this, message);
    this.relieve();
  }

  private relieve(): void {
    const waiters = this.relievedWaiters;
    this.relievedWaiters = [];
    for (const relieved of waiters) relieved();
  }

  private readonly drain = (): void => {
    let budget = THROUGHPUT;
    while (this.mailbox.length > 0 && budget-- > 0) {
      if (this.failure) this.onFailure();
      if (this.stopped) return;
      const message = this.mailbox.shift() as { type: string };
      const refusedIn = this.reportUnhandled ? this.unhandledIn(message) : null;
      if (refusedIn === null) this.actor.send(message);
      else this.hooks.onUnhandled(this, message, refusedIn);
    }
    if (this.failure) this.onFailure();
    if (this.stopped) return;
    if (this.relievedWaiters.length > 0 && this.mailbox.length <= MAILBOX_LOW_WATER) this.relieve();
    if (this.mailbox.length > 0) setImmediate(this.drain);
    else this.scheduled = false;
  };

  /** The current state when it takes no transition for `message`, else null. */
  private unhandledIn(message: { type: string }): string | null {
    const snapshot = this.actor.getSnapshot() as { status?: string; value?: unknown; can?: (event: { type: string }) => boolean };
    if (snapshot.status !== 'active' || typeof snapshot.can !== 'function') return null;
    try {
      if (snapshot.can(message)) return null;
    } catch {
      // A guard that throws fails the actor when the message is processed: let it, under supervision.
      return null;
    }
    return stateName(snapshot.value);
  }

  private startActor(): AnyActorRef {
    const actor = createActor(this.logic, { input: this.input, clock: this.clock, ...(this.inspect ? { inspect: this.inspect } : {}) });
    actor.subscribe({
      error: (error: unknown) => {
        if (actor !== this.actor) return;
        this.failure = { error };
        // Errors can also come from outside a drain (an invoked promise, a delayed event).
        if (!this.scheduled) this.onFailure();
      },
      complete: () => {
        if (actor === this.actor && !this.failure && !this.stopped) this.stop('stopped');
      },
    });
    this.actor = actor;
    actor.start();
    return actor;
  }

  private onFailure(): void {
    const error = toWireError(this.failure!.error);
    this.failure = null;
    const decision = decide(this.policy, this.restarts, this.clock.now());
    this.log.warn({ err: error, decision }, 'actor failed');
    if (decision === 'stop') {
      this.stop('failed', error);
      return;
    }
    const failed = this.actor;
    this.startActor();
    failed.stop();
    this.hooks.onRestarted(this, error);
  }
}

/** A state value as `parent.child` (parallel regions joined by `,`). */
function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') return String(value);
  if (Object.keys(value).length === 0) return '(root)'; // a machine without states
  return Object.entries(value as Record<string, unknown>)
    .map(([key, inner]) => (inner && typeof inner === 'object' && Object.keys(inner).length === 0 ? key : `${key}.${stateName(inner)}`))
    .join(',');
}
