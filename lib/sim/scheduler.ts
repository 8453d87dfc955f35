/**
 * The simulator's scheduler: one queue of events ordered by simulated time, then by the order
 * they were scheduled in. Each event runs alone, and everything it starts (promise chains,
 * mailboxes) settles before the next one: the order of events is a function of the seed only.
 *
 * Each simulated process is a SimNode with its own Clock over this queue. A paused node keeps
 * its events (timers, deliveries) until it resumes; a crashed node loses them: they belong to
 * an incarnation that no longer exists.
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import { SIMULATED_EPOCH_MS } from '../util/simulated-clock.js';

export interface SimEvent {
  at: number;
  seq: number;
  /** What the trace says about it; null: not traced (a node's own timers are many and alike). */
  label: string | null;
  run: () => void;
  owner: SimNode | null;
  incarnation: number;
  cancelled: boolean;
}

export class SimNode {
  incarnation = 1;
  paused = false;
  crashed = false;
  /** Events that fell due while paused, in order. */
  private held: SimEvent[] = [];
  /** Held events re-queued at resume and not yet run: the node is catching up. */
  catchingUp = 0;
  readonly clock: Clock;

  constructor(
    readonly name: string,
    private readonly scheduler: Scheduler,
  ) {
    this.clock = {
      now: () => scheduler.now,
      setTimeout: (fn, ms): TimerHandle => scheduler.schedule(ms, null, fn, this),
      clearTimeout: (handle) => {
        if (handle && typeof handle === 'object') (handle as SimEvent).cancelled = true;
      },
    };
  }

  /** Whether the node processes events now. */
  get running(): boolean {
    return !this.paused && !this.crashed;
  }

  hold(event: SimEvent): void {
    this.held.push(event);
  }

  pause(): void {
    this.paused = true;
  }

  /** Everything that fell due while paused runs now, in its original order. */
  resume(): void {
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const event of held) {
      if (event.cancelled) continue;
      this.catchingUp++;
      const run = event.run;
      event.run = () => {
        this.catchingUp--;
        run();
      };
      this.scheduler.requeue(event);
    }
  }

  /** The process dies: its events are dropped, a restart is a new incarnation. */
  crash(): void {
    this.crashed = true;
    this.paused = false;
    this.held = [];
    this.catchingUp = 0;
    this.incarnation++;
  }

  restart(): void {
    this.crashed = false;
  }
}

export class Scheduler {
  now = SIMULATED_EPOCH_MS;
  private seq = 0;
  private readonly heap: SimEvent[] = [];
  /** What ran, with simulated times (ms since the start): the run's trace. */
  readonly trace: string[] = [];
  steps = 0;

  get elapsed(): number {
    return this.now - SIMULATED_EPOCH_MS;
  }

  schedule(delayMs: number, label: string | null, run: () => void, owner: SimNode | null = null): SimEvent {
    const delay = Number.isFinite(delayMs) && delayMs > 0 ? Math.floor(delayMs) : 0;
    const event: SimEvent = { at: this.now + delay, seq: this.seq++, label, run, owner, incarnation: owner?.incarnation ?? 0, cancelled: false };
    this.push(event);
    return event;
  }

  /**
   * Run a held event now, before anything else due now, in its original order among the held:
   * what a paused process had pending comes first when it resumes (a channel stays in order).
   */
  requeue(event: SimEvent): void {
    event.at = this.now;
    event.seq -= HELD_FIRST;
    this.push(event);
  }

  /** Schedule at an absolute elapsed time (ms since the start). */
  at(elapsedMs: number, label: string | null, run: () => void): SimEvent {
    return this.schedule(elapsedMs - this.elapsed, label, run);
  }

  get pending(): number {
    return this.heap.length;
  }

  nextAt(): number | null {
    return this.heap[0]?.at ?? null;
  }

  /** Run the next event (and let what it started settle); false when none is left. */
  async step(): Promise<boolean> {
    const event = this.pop();
    if (!event) return false;
    this.now = event.at;
    if (event.cancelled) return true;
    const owner = event.owner;
    if (owner) {
      if (owner.incarnation !== event.incarnation || owner.crashed) return true;
      if (owner.paused) {
        owner.hold(event);
        return true;
      }
    }
    this.steps++;
    if (event.label !== null) this.trace.push(`${this.elapsed} ${event.label}`);
    event.run();
    await settle();
    return true;
  }

  private push(event: SimEvent): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): SimEvent | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Subtracted from a held event's sequence number: it sorts before every event scheduled normally. */
const HELD_FIRST = 2 ** 52;

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** One macrotask turn: every microtask (promise continuation, mailbox drain) the event started has run. */
function settle(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
