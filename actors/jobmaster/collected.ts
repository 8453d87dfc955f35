/**
 * collect() exactly once: the records of collect() sinks are held here, each batch with the
 * checkpoint whose barrier its records followed (its epoch), and released into the job's
 * result only when a later checkpoint completes, i.e. once the state that produced them is
 * durable. A restart drops what is held: the attempt that follows replays it from the restored
 * checkpoint. A job that finishes releases everything (its input is fully processed); one that
 * fails, is canceled or stops with a savepoint keeps only what checkpoints covered (what came
 * after is what a resume from the savepoint produces again).
 *
 * The bound `maxCollectedRecords` counts held and released records together.
 */
import type { Context } from './context.js';

export interface HeldBatch {
  readonly epoch: number;
  readonly records: readonly unknown[];
}

/** A batch from a subtask of the current attempt; beyond the bound, records are dropped. */
export function holdCollected(context: Context, epoch: number, records: readonly unknown[]): void {
  if (!Number.isInteger(epoch) || epoch < 0 || !Array.isArray(records)) return;
  const room = context.maxCollectedRecords - context.collected.length - context.heldCount;
  if (room <= 0 || records.length === 0) return;
  const kept = room >= records.length ? records : records.slice(0, room);
  context.held.push({ epoch, records: kept });
  context.heldCount += kept.length;
}

/** Checkpoint `checkpointId` completed: every batch that came before its barrier is final. */
export function releaseCollected(context: Context, checkpointId: number = Number.POSITIVE_INFINITY): void {
  const kept: HeldBatch[] = [];
  for (const batch of context.held) {
    if (batch.epoch < checkpointId) {
      for (const record of batch.records) context.collected.push(record); // no spread: batches can be large
    } else {
      kept.push(batch);
    }
  }
  context.held = kept;
  context.heldCount = kept.reduce((n, b) => n + b.records.length, 0);
}

/** The attempt ended without its last records being checkpointed: the next one produces them again. */
export function dropHeldCollected(context: Context): void {
  context.held = [];
  context.heldCount = 0;
}
