/**
 * A clock whose time moves only when told to. `advance(ms)` fires the timers that fall due, in
 * order of due time (then of arming), each at its own instant, and lets the promises and
 * mailboxes they start settle before the next one: the same calls give the same order of
 * events, whatever the machine's load. For tests and the simulator; never for a real process.
 *
 * @example
 * const clock = new SimulatedClock();
 * const system = await ActorSystem.start({ ...options, clock });
 * system.spawn('jm', jobMasterMachine, { input });
 * await clock.advance(30_000); // the slot-request timeout fires, at once
 */
import type { Clock, TimerHandle } from './clock.js';

interface Timer {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
}

/** A plausible epoch (2023-11-14), so that code that treats 0 as "never" sees real-looking times. */
export const SIMULATED_EPOCH_MS = 1_700_000_000_000;

/** Event-loop turns one settle waits: promise chains that hop through a few macrotasks complete too. */
const SETTLE_TURNS = 3;

export class SimulatedClock implements Clock {
  private time: number;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();
  private advancing = false;

  constructor(startMs = SIMULATED_EPOCH_MS) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    // Node's timers clamp a bad delay to 1 ms; so does this one.
    const delay = Number.isFinite(ms) && ms >= 1 ? Math.floor(ms) : 1;
    this.timers.set(id, { id, due: this.time + delay, fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }

  /** Timers armed and not yet fired. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** When the next timer falls due, or null when none is armed. */
  nextDue(): number | null {
    return this.earliest()?.due ?? null;
  }

  /**
   * Move time forward by `ms`, firing every timer that falls due on the way (timers armed by
   * those, if due within the span, too), and settle after each.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance needs a non-negative duration, got ${ms}`);
    await this.advanceTo(this.time + ms);
  }

  /** Move time forward to `target` (see `advance`). */
  async advanceTo(target: number): Promise<void> {
    if (this.advancing) throw new Error('SimulatedClock.advance is not reentrant: await the advance in progress');
    if (target < this.time) throw new RangeError(`cannot go back in time, from ${this.time} to ${target}`);
    this.advancing = true;
    try {
      await settle();
      for (let timer = this.earliest(); timer && timer.due <= target; timer = this.earliest()) {
        this.timers.delete(timer.id);
        this.time = timer.due;
        timer.fn();
        await settle();
      }
      this.time = target;
      await settle();
    } finally {
      this.advancing = false;
    }
  }

  /** Let what is in progress settle (promises, mailboxes) without moving time. */
  async settle(): Promise<void> {
    await settle();
  }

  private earliest(): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.timers.values()) {
      if (!best || timer.due < best.due || (timer.due === best.due && timer.id < best.id)) best = timer;
    }
    return best;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < SETTLE_TURNS; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
