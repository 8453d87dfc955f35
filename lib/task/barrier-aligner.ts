/**
 * Barrier alignment of one task over all its input channels (Flink's aligned
 * CheckpointBarrierHandler), as a pure state machine: the task feeds it the barriers and
 * end-of-partition events it polls, applies the blocks it asks for, and acts on the outcomes.
 *
 * Model, for the one checkpoint `n` being aligned at a time:
 *
 *   idle --barrier n on c--> aligning(n): c blocked (its later input waits; credits bound it)
 *   aligning(n) --barrier n on every other channel (or end-of-partition there)--> aligned(n): idle
 *   aligning(n) --barrier m > n on c--> aborted(n) ("superseded"), aligning(m) with only c blocked
 *   aligning(n) --coordinator aborts k >= n--> aborted(n), idle
 *
 * Barriers of a checkpoint older than the one aligning, or already aligned or aborted here, are
 * stale and ignored: the data behind them simply belongs to the next checkpoint. A channel that
 * has ended counts as aligned for every later checkpoint.
 *
 * @example
 * const aligner = new BarrierAligner(3);
 * aligner.onBarrier(0, b5);   // [] and isBlocked(0)
 * aligner.onEndOfPartition(1); // []
 * aligner.onBarrier(2, b5);   // [{ type: 'aligned', barrier: b5 }]: snapshot, forward, unblock
 */
import type { BarrierInfo } from '../network/messages.js';

export type AlignmentOutcome =
  /** Every channel delivered the barrier (or ended): snapshot now, forward the barrier, unblock. */
  | { readonly type: 'aligned'; readonly barrier: BarrierInfo }
  /** Alignment of `checkpointId` was given up; unblock every channel. */
  | { readonly type: 'aborted'; readonly checkpointId: number; readonly reason: 'superseded' | 'aborted'; readonly newerId?: number };

export class BarrierAligner {
  private pending: BarrierInfo | null = null;
  private readonly arrived: boolean[];
  private arrivedCount = 0;
  private readonly ended: boolean[];
  private endedCount = 0;
  /** Highest checkpoint aligned or aborted here; its barriers and older ones are stale. */
  private lastDone = Number.NEGATIVE_INFINITY;

  constructor(readonly numberOfChannels: number) {
    this.arrived = new Array<boolean>(numberOfChannels).fill(false);
    this.ended = new Array<boolean>(numberOfChannels).fill(false);
  }

  /** The checkpoint being aligned, if any. */
  get aligning(): number | null {
    return this.pending?.checkpointId ?? null;
  }

  /** True while the channel's input must wait (it delivered the barrier of the checkpoint aligning). */
  isBlocked(channel: number): boolean {
    return this.pending !== null && this.arrived[channel] === true;
  }

  blockedChannels(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.numberOfChannels; i++) if (this.isBlocked(i)) out.push(i);
    return out;
  }

  onBarrier(channel: number, barrier: BarrierInfo): AlignmentOutcome[] {
    const id = barrier.checkpointId;
    if (this.ended[channel] === true || id <= this.lastDone) return [];
    const out: AlignmentOutcome[] = [];
    if (this.pending !== null) {
      if (id < this.pending.checkpointId) return [];
      if (id > this.pending.checkpointId) {
        out.push({ type: 'aborted', checkpointId: this.pending.checkpointId, reason: 'superseded', newerId: id });
        this.settle(this.pending.checkpointId);
      }
    }
    if (this.pending === null) this.pending = barrier;
    if (this.arrived[channel] !== true) {
      this.arrived[channel] = true;
      this.arrivedCount++;
    }
    return this.checkAligned(out);
  }

  onEndOfPartition(channel: number): AlignmentOutcome[] {
    if (this.ended[channel] === true) return [];
    this.ended[channel] = true;
    this.endedCount++;
    if (this.arrived[channel] === true) {
      this.arrived[channel] = false;
      this.arrivedCount--;
    }
    return this.checkAligned([]);
  }

  /** The coordinator aborted `checkpointId`: give up aligning it (or an older one). */
  abort(checkpointId: number): AlignmentOutcome[] {
    const out: AlignmentOutcome[] = [];
    if (this.pending !== null && this.pending.checkpointId <= checkpointId) {
      out.push({ type: 'aborted', checkpointId: this.pending.checkpointId, reason: 'aborted' });
      this.settle(this.pending.checkpointId);
    }
    this.lastDone = Math.max(this.lastDone, checkpointId);
    return out;
  }

  private checkAligned(out: AlignmentOutcome[]): AlignmentOutcome[] {
    const pending = this.pending;
    if (pending !== null && this.arrivedCount + this.endedCount === this.numberOfChannels) {
      out.push({ type: 'aligned', barrier: pending });
      this.settle(pending.checkpointId);
    }
    return out;
  }

  private settle(checkpointId: number): void {
    this.lastDone = Math.max(this.lastDone, checkpointId);
    this.pending = null;
    this.arrived.fill(false);
    this.arrivedCount = 0;
  }
}
