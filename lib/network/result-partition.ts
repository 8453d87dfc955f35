/**
 * The producer side of credit-based flow control (Flink's ResultPartition and
 * CreditBasedSequenceNumberingViewReader folded into one): one ResultPartition per output
 * edge of a task, one Subpartition per consumer subtask.
 *
 * A subpartition fills a buffer, queues it when full, and sends a queued buffer only against a
 * credit that its consumer announced. Each sent buffer carries the backlog (buffers still
 * queued) so that the consumer can grant floating credits. The task asks `isAvailable()` before
 * it takes more input: a subpartition with more than `maxBacklog` buffers waiting for credit
 * makes the whole partition unavailable, which is how a slow consumer slows its producers and
 * how memory stays bounded at (credits + maxBacklog + 1) buffers per channel.
 *
 * End-of-partition is an event after the last buffer; like Flink's events it needs no credit,
 * but it is only sent once every buffer before it has left. Checkpoint barriers are events of
 * the same kind: `broadcastBarrier` cuts the buffer being filled (so the barrier follows exactly
 * the records emitted before it), queues the barrier behind the buffers, and sends it without
 * credit as soon as it reaches the head of the queue.
 */
import { ALL_CHANNELS, type ChannelSelector } from '../dataflow/partitioners.js';
import { RingQueue } from '../util/ring-queue.js';
import { NO_TIMESTAMP } from '../dataflow/watermarks.js';
import { BufferBuilder, DEFAULT_BUFFER_BYTES, RecordSerializer, type NetworkBuffer, type StreamEvent } from './buffer.js';
import type { BarrierInfo } from './messages.js';

/** Where a subpartition's buffers and events go (the worker's port to the TaskRunner, or a test). */
export interface PartitionSender {
  sendBuffer(channelId: string, buffer: NetworkBuffer, backlog: number): void;
  sendEndOfPartition(channelId: string): void;
  sendBarrier(channelId: string, barrier: BarrierInfo): void;
}

/** A barrier waiting in a subpartition's queue, behind the buffers emitted before it. */
interface QueuedBarrier {
  readonly barrier: BarrierInfo;
}

function isBarrier(entry: NetworkBuffer | QueuedBarrier): entry is QueuedBarrier {
  return (entry as QueuedBarrier).barrier !== undefined;
}

export interface ResultPartitionOptions {
  /** Bytes per buffer (default 32 KB). */
  readonly bufferBytes?: number;
  /** Full buffers a subpartition may queue without credit before the task must stop (default 2). */
  readonly maxBacklog?: number;
}

/** One channel to one consumer subtask. */
export class Subpartition {
  private readonly builder: BufferBuilder;
  private readonly queue = new RingQueue<NetworkBuffer | QueuedBarrier>(8);
  /** The queue's head, taken out while it waits for credit (the RingQueue has no peek). */
  private head: NetworkBuffer | QueuedBarrier | undefined;
  /** Barriers queued (they are not backlog: they need no credit). */
  private queuedBarriers = 0;
  private credits = 0;
  private finishing = false;
  private ended = false;
  buffersSent = 0;

  constructor(
    readonly channelId: string,
    private readonly sender: PartitionSender,
    bufferBytes: number,
  ) {
    this.builder = new BufferBuilder(bufferBytes);
  }

  /** Full buffers waiting for credit. */
  get backlog(): number {
    return this.queue.length + (this.head === undefined ? 0 : 1) - this.queuedBarriers;
  }

  get availableCredits(): number {
    return this.credits;
  }

  /** True once end-of-partition has been sent. */
  get isEnded(): boolean {
    return this.ended;
  }

  /** Packs a record straight into the buffer being filled (see BufferBuilder.tryPack); false if it must go through `write`. */
  tryPack(serializer: RecordSerializer, record: unknown, timestamp: number): boolean {
    const builder = this.builder;
    if (!builder.tryPack(serializer, record, timestamp)) return false;
    if (builder.remaining === 0) this.queueCurrent();
    return true;
  }

  /** Appends one serialized record, queuing (and if possible sending) the buffer when full. */
  write(src: Buffer, start: number, end: number): void {
    if (end - start > this.builder.remaining && !this.builder.isEmpty) this.queueCurrent();
    this.builder.append(src, start, end);
    if (this.builder.remaining === 0) this.queueCurrent();
  }

  /**
   * The buffer timeout: hands over a partly filled buffer, but only when it would leave now.
   * With buffers already waiting for credit, a flush would only cut the buffer short.
   */
  flushIfIdle(): void {
    if (!this.builder.isEmpty && this.backlog === 0 && this.credits > 0) {
      this.queueCurrent();
    }
  }

  addCredit(n: number): void {
    this.credits += n;
    this.trySend();
  }

  /** A barrier after every record written so far; it leaves once the buffers before it have. */
  addBarrier(barrier: BarrierInfo): void {
    if (this.finishing) return; // the channel ends anyway: end-of-partition counts as aligned downstream
    if (!this.builder.isEmpty) this.queue.push(this.builder.take());
    this.queue.push({ barrier });
    this.queuedBarriers++;
    this.trySend();
  }

  /** No more records: flush, then end-of-partition once everything has left. */
  finish(): void {
    if (this.finishing) return;
    this.finishing = true;
    if (!this.builder.isEmpty) this.queue.push(this.builder.take());
    this.trySend();
  }

  private queueCurrent(): void {
    this.queue.push(this.builder.take());
    this.trySend();
  }

  private trySend(): void {
    for (;;) {
      const head = this.head ?? this.queue.shift();
      this.head = head;
      if (head === undefined) break;
      if (isBarrier(head)) {
        this.head = undefined;
        this.queuedBarriers--;
        this.sender.sendBarrier(this.channelId, head.barrier);
        continue;
      }
      if (this.credits === 0) break;
      this.head = undefined;
      this.credits--;
      this.buffersSent++;
      this.sender.sendBuffer(this.channelId, head, this.backlog);
    }
    if (this.finishing && !this.ended && this.head === undefined && this.queue.length === 0) {
      this.ended = true;
      this.sender.sendEndOfPartition(this.channelId);
    }
  }
}

/**
 * The output of a task for one job edge: records routed to subpartitions by the edge's
 * channel selector.
 *
 * @example
 * const partition = new ResultPartition(channelIds, createChannelSelector({...}), serializer, sender);
 * partition.emit(record);              // per record, no allocation of ours
 * if (!partition.isAvailable()) wait;  // until credit arrives
 * partition.finish();                  // flush, then end-of-partition on every channel
 */
export class ResultPartition {
  readonly subpartitions: readonly Subpartition[];
  private readonly byChannel: ReadonlyMap<string, Subpartition>;
  private readonly maxBacklog: number;

  constructor(
    channelIds: readonly string[],
    private readonly selector: ChannelSelector,
    private readonly serializer: RecordSerializer,
    sender: PartitionSender,
    options: ResultPartitionOptions = {},
  ) {
    const bufferBytes = options.bufferBytes ?? DEFAULT_BUFFER_BYTES;
    this.maxBacklog = options.maxBacklog ?? 2;
    this.subpartitions = channelIds.map((id) => new Subpartition(id, sender, bufferBytes));
    this.byChannel = new Map(this.subpartitions.map((s) => [s.channelId, s]));
  }

  /** Routes one record (with its event time, if any). The serializer's bytes are reused, so every target copies them now. */
  emit(record: unknown, timestamp: number = NO_TIMESTAMP): void {
    const s = this.serializer;
    const channel = this.selector(record);
    if (channel !== ALL_CHANNELS && (this.subpartitions[channel] as Subpartition).tryPack(s, record, timestamp)) return;
    if (timestamp === NO_TIMESTAMP) s.pack(record);
    else s.packTimestamped(record, timestamp);
    if (channel === ALL_CHANNELS) {
      for (const sub of this.subpartitions) sub.write(s.target, s.start, s.end);
    } else {
      (this.subpartitions[channel] as Subpartition).write(s.target, s.start, s.end);
    }
  }

  /** A watermark or status change on every channel, in order with the records emitted so far. */
  emitEvent(event: StreamEvent, watermark: number): void {
    const s = this.serializer;
    s.packEvent(event, watermark);
    for (const sub of this.subpartitions) sub.write(s.target, s.start, s.end);
  }

  /** The subpartition of a channel (credits arrive by channel id). */
  subpartition(channelId: string): Subpartition | undefined {
    return this.byChannel.get(channelId);
  }

  /** False while any channel has more than `maxBacklog` buffers waiting for credit. */
  isAvailable(): boolean {
    for (const sub of this.subpartitions) if (sub.backlog > this.maxBacklog) return false;
    return true;
  }

  /** The buffer timeout fired. */
  flush(): void {
    for (const sub of this.subpartitions) sub.flushIfIdle();
  }

  finish(): void {
    for (const sub of this.subpartitions) sub.finish();
  }

  /** A checkpoint barrier on every channel, after the records emitted so far. */
  broadcastBarrier(barrier: BarrierInfo): void {
    for (const sub of this.subpartitions) sub.addBarrier(barrier);
  }

  /** True once every channel has sent end-of-partition. */
  isFinished(): boolean {
    for (const sub of this.subpartitions) if (!sub.isEnded) return false;
    return true;
  }
}
