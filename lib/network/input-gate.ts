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
 */
import { RingQueue } from '../util/ring-queue.js';
import { CreditViolationError, UnknownChannelError } from './errors.js';

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

/** A queued buffer of one channel, or its end-of-partition (data === null). */
export interface InputEntry {
  readonly channelIndex: number;
  readonly data: ArrayBuffer | null;
  readonly length: number;
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

  constructor(
    channelIds: readonly string[],
    private readonly sender: CreditSender,
    options: InputGateOptions = {},
  ) {
    this.exclusive = options.exclusiveCredits ?? 2;
    this.floatingPool = options.floatingCredits ?? 0;
    this.channels = channelIds.map((id, i) => new InputChannel(id, i));
    this.byId = new Map(this.channels.map((c) => [c.channelId, c]));
  }

  get numberOfChannels(): number {
    return this.channels.length;
  }

  /** Buffers and events waiting to be processed. */
  get queued(): number {
    return this.queue.length;
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

  /** The next buffer or end-of-partition, in arrival order. */
  poll(): InputEntry | undefined {
    const entry = this.queue.shift();
    if (entry !== undefined && entry.data === null) this.endedChannels++;
    return entry;
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
