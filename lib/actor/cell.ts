/**
 * A local actor: an xstate actor behind a mailbox, under supervision. Messages are processed one
 * at a time, never inside the sender's call stack; the mailbox is drained in bounded turns so
 * that a busy actor cannot starve I/O.
 */
import { createActor, type AnyActorLogic, type AnyActorRef } from 'xstate';
import { toWireError, type WireError } from '../errors.js';
import type { Logger } from '../logging.js';
import { RingQueue } from '../util/ring-queue.js';
import type { ActorRef } from './ref.js';
import { decide, type SupervisionPolicy } from './supervision.js';
import type { TerminationReason } from './notices.js';
import type { Clock } from '../util/clock.js';

/** Messages processed per turn before yielding to the event loop. */
const THROUGHPUT = 512;

export interface CellHooks {
  /** Called once when the actor has stopped for good. */
  onStopped(cell: ActorCell, reason: TerminationReason, error: WireError | undefined): void;
  onRestarted(cell: ActorCell, error: WireError): void;
  /** A message left in the mailbox of a stopped actor. */
  onUndelivered(cell: ActorCell, message: unknown): void;
}

export class ActorCell {
  private actor: AnyActorRef;
  private readonly mailbox = new RingQueue<unknown>();
  private scheduled = false;
  private failure: { error: unknown } | null = null;
  private readonly restarts: number[] = [];
  stopped = false;

  constructor(
    readonly ref: ActorRef<any>,
    private readonly logic: AnyActorLogic,
    private readonly input: unknown,
    private readonly policy: SupervisionPolicy,
    private readonly hooks: CellHooks,
    readonly log: Logger,
    /** Passed to xstate as its clock: the machine's delayed events and transitions run on it. */
    private readonly clock: Clock,
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
  }

  private readonly drain = (): void => {
    let budget = THROUGHPUT;
    while (this.mailbox.length > 0 && budget-- > 0) {
      if (this.failure) this.onFailure();
      if (this.stopped) return;
      this.actor.send(this.mailbox.shift() as { type: string });
    }
    if (this.failure) this.onFailure();
    if (this.stopped) return;
    if (this.mailbox.length > 0) setImmediate(this.drain);
    else this.scheduled = false;
  };

  private startActor(): AnyActorRef {
    const actor = createActor(this.logic, { input: this.input, clock: this.clock });
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
