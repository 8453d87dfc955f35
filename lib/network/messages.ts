/**
 * The data-plane messages, as they travel between a task's worker thread and its TaskRunner
 * (structured clone, the buffer's ArrayBuffer transferred) and, re-encoded by data-frames.ts,
 * between TaskRunners over TCP. Short keys: one message per buffer, not per record.
 */

export const DataMessageType = {
  /** A buffer of records, producer -> consumer. `backlog`: buffers still queued at the producer. */
  Buffer: 'buffer',
  /** End of partition: the producer sends nothing more on this channel. */
  EndOfPartition: 'eop',
  /** `n` more buffers may be sent, consumer -> producer. */
  Credit: 'credit',
  /** A checkpoint barrier, producer -> consumer, in order with the buffers; needs no credit. */
  Barrier: 'barrier',
} as const;

/** What a barrier carries: the checkpoint and where its snapshots go (Flink's CheckpointOptions). */
export interface BarrierInfo {
  readonly checkpointId: number;
  readonly savepoint: boolean;
  /** Directory of this checkpoint's snapshot files. */
  readonly dir: string;
}

export type BufferMessage = { t: typeof DataMessageType.Buffer; ch: string; data: ArrayBuffer; length: number; backlog: number };
export type EndOfPartitionMessage = { t: typeof DataMessageType.EndOfPartition; ch: string };
export type CreditMessage = { t: typeof DataMessageType.Credit; ch: string; n: number };
export type BarrierMessage = { t: typeof DataMessageType.Barrier; ch: string; barrier: BarrierInfo };

export type DataMessage = BufferMessage | EndOfPartitionMessage | CreditMessage | BarrierMessage;
