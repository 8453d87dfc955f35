/**
 * The consumer side of credit-based flow control (Flink's SingleInputGate and
 * RemoteInputChannel, folded together): one InputGate per input edge of a task, one channel per
 * producer subtask.
 *
 * Credits: every channel owns `exclusiveCredits` buffers, announced when the task starts. The
 * gate also holds a pool of `floatingCredits` buffers that it lends to channels whose producer
 * reports a backlog. When the task has processed a buffer, the credit goes back to its channel,
 * unless the channel holds a floating buffer it no longer needs (backlog 0): that one returns
 * to the pool and may go to another channel with a backlog. So at most
 * `channels * exclusive + floating` buffers are ever in flight or queued for one gate.
 *
 * Credits are gathered and sent in one message per channel by `flushCredits()`, after each
 * slice of work, not per buffer.
 *
 * Checkpoint barriers queue in order with the buffers. For barrier alignment the task can
 * `block` a channel: its later entries are set aside as `poll` meets them (their credits are
 * not returned, so the producer soon stops) and come back first, in order, on `unblockAll`.
 */
import { RingQueue } from '../util/ring-queue.js';
import { CreditViolationError, UnknownChannelError } from './errors.js';
import type { BarrierInfo } from './messages.js';

/** Where credits go (the worker's port to the TaskRunner, or a test). */
export interface CreditSender {
  sendCredit(channelId: string, credits: number): void;
}

export interface InputGateOptions {
  /** Buffers each channel owns (Flink's default is 2). */
  readonly exclusiveCredits?: number;
  /** Buffers the gate lends to channels with a backlog (Flink's default is 8 per gate). */
  readonly floatingCredits?: number;
}

class InputChannel {
  /** Credits granted and not yet used by a buffer: a buffer arriving at 0 is a violation. */
  outstanding = 0;
  /** Credits to announce at the next flush. */
  unannounced = 0;
  floatingHeld = 0;
  backlog = 0;
  ended = false;
  constructor(
    readonly channelId: string,
    readonly index: number,
  ) {}
}

/** A queued buffer of one channel, a barrier (`barrier` set), or its end-of-partition (data === null, no barrier). */
export interface InputEntry {
  readonly channelIndex: number;
  readonly data: ArrayBuffer | null;
  readonly length: number;
  readonly barrier?: BarrierInfo;
}

/**
 * @example
 * const gate = new InputGate(channelIds, sender, { exclusiveCredits: 2, floatingCredits: 4 });
 * gate.start();                                   // announce initial credits
 * gate.onBuffer(channelId, data, length, backlog); // from the network
 * const entry = gate.poll(); ...process...; gate.recycle(entry.channelIndex); gate.flushCredits();
 */
export class InputGate {
  private readonly channels: InputChannel[];
  private readonly byId: Map<string, InputChannel>;
  private readonly queue = new RingQueue<InputEntry>(16);
  private readonly exclusive: number;
  private floatingPool: number;
  private endedChannels = 0;
  private readonly dirty: InputChannel[] = [];
  /** Entries of unblocked channels, polled before `queue` (they were taken from it earlier). */
  private ready: InputEntry[] = [];
  private readyAt = 0;
  /** Per channel: the entries set aside while it is blocked (undefined: not blocked). */
  private readonly held: (InputEntry[] | undefined)[];
  private blockedCount = 0;

  constructor(
    channelIds: readonly string[],
    private readonly sender: CreditSender,
    options: InputGateOptions = {},
  ) {
    this.exclusive = options.exclusiveCredits ?? 2;
    this.floatingPool = options.floatingCredits ?? 0;
    this.channels = channelIds.map((id, i) => new InputChannel(id, i));
    this.byId = new Map(this.channels.map((c) => [c.channelId, c]));
    this.held = this.channels.map(() => undefined);
  }

  get numberOfChannels(): number {
    return this.channels.length;
  }

  /** Buffers and events waiting to be processed (not counting those of blocked channels already set aside). */
  get queued(): number {
    return this.queue.length + this.ready.length - this.readyAt;
  }

  /** Announces every channel's exclusive credits. */
  start(): void {
    for (const c of this.channels) this.grant(c, this.exclusive);
    this.flushCredits();
  }

  hasChannel(channelId: string): boolean {
    return this.byId.has(channelId);
  }

  /** True once the channel's end-of-partition has arrived. */
  isChannelEnded(channelId: string): boolean {
    return this.byId.get(channelId)?.ended ?? false;
  }

  /** A buffer arrived. Throws CreditViolationError if the producer had no credit for it. */
  onBuffer(channelId: string, data: ArrayBuffer, length: number, backlog: number): void {
    const c = this.channel(channelId);
    if (c.ended) throw new CreditViolationError(channelId, 'buffer after end-of-partition');
    if (c.outstanding === 0) throw new CreditViolationError(channelId, 'buffer without credit');
    c.outstanding--;
    c.backlog = backlog;
    this.queue.push({ channelIndex: c.index, data, length });
    if (backlog > 0 && this.floatingPool > 0) {
      const lend = Math.min(backlog, this.floatingPool);
      this.floatingPool -= lend;
      c.floatingHeld += lend;
      this.grant(c, lend);
    }
  }

  onEndOfPartition(channelId: string): void {
    const c = this.channel(channelId);
    if (c.ended) return;
    c.ended = true;
    this.queue.push({ channelIndex: c.index, data: null, length: 0 });
  }

  /** A checkpoint barrier arrived: queued after the channel's buffers, like end-of-partition it needs no credit. */
  onBarrier(channelId: string, barrier: BarrierInfo): void {
    const c = this.channel(channelId);
    if (c.ended) throw new CreditViolationError(channelId, 'barrier after end-of-partition');
    this.queue.push({ channelIndex: c.index, data: null, length: 0, barrier });
  }

  /** The next buffer, barrier or end-of-partition of a channel that is not blocked, in arrival order. */
  poll(): InputEntry | undefined {
    for (;;) {
      let entry: InputEntry | undefined;
      if (this.readyAt < this.ready.length) {
        entry = this.ready[this.readyAt++];
        if (this.readyAt === this.ready.length) this.resetReady([]);
      } else {
        entry = this.queue.shift();
      }
      if (entry === undefined) return undefined;
      if (this.blockedCount > 0) {
        const held = this.held[entry.channelIndex];
        if (held !== undefined) {
          held.push(entry);
          continue;
        }
      }
      if (entry.data === null && entry.barrier === undefined) this.endedChannels++;
      return entry;
    }
  }

  /** Stops handing out the channel's entries (barrier alignment) until `unblockAll`. */
  block(channelIndex: number): void {
    if (this.held[channelIndex] !== undefined) return;
    this.held[channelIndex] = [];
    this.blockedCount++;
  }

  isBlocked(channelIndex: number): boolean {
    return this.held[channelIndex] !== undefined;
  }

  /** Ends every block; the entries set aside come next, each channel's in its order. */
  unblockAll(): void {
    if (this.blockedCount === 0) return;
    const back: InputEntry[] = [];
    for (let i = 0; i < this.held.length; i++) {
      const held = this.held[i];
      if (held === undefined) continue;
      for (const e of held) back.push(e);
      this.held[i] = undefined;
    }
    this.blockedCount = 0;
    // Set-aside entries were polled before anything still in `ready`, so they go in front.
    this.resetReady(back.concat(this.ready.slice(this.readyAt)));
  }

  /** The task is done with a buffer of this channel: its credit goes back (or to the pool). */
  recycle(channelIndex: number): void {
    const c = this.channels[channelIndex] as InputChannel;
    if (c.ended) {
      // The producer will send nothing more: its buffers are no longer needed anywhere.
      if (c.floatingHeld > 0) {
        c.floatingHeld--;
        this.floatingPool++;
        this.lendFloating();
      }
      return;
    }
    if (c.floatingHeld > 0 && c.backlog === 0) {
      c.floatingHeld--;
      this.floatingPool++;
      this.lendFloating();
      return;
    }
    this.grant(c, 1);
  }

  /** Sends the gathered credits, one message per channel. */
  flushCredits(): void {
    for (const c of this.dirty) {
      if (c.unannounced > 0) this.sender.sendCredit(c.channelId, c.unannounced);
      c.unannounced = 0;
    }
    this.dirty.length = 0;
  }

  /** True once every channel's end-of-partition has been polled. */
  isFinished(): boolean {
    return this.endedChannels === this.channels.length;
  }

  private resetReady(entries: InputEntry[]): void {
    this.ready = entries;
    this.readyAt = 0;
  }

  private lendFloating(): void {
    for (const c of this.channels) {
      if (this.floatingPool === 0) return;
      if (!c.ended && c.backlog > c.outstanding) {
        this.floatingPool--;
        c.floatingHeld++;
        this.grant(c, 1);
      }
    }
  }

  private grant(c: InputChannel, n: number): void {
    c.outstanding += n;
    if (c.unannounced === 0) this.dirty.push(c);
    c.unannounced += n;
  }

  private channel(channelId: string): InputChannel {
    const c = this.byId.get(channelId);
    if (c === undefined) throw new UnknownChannelError(channelId);
    return c;
  }
}
