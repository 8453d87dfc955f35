/**
 * Time and timers, injected: every actor of an ActorSystem reads the time and arms its timers
 * through the system's clock (xstate's delayed events and transitions too, as its `clock`
 * option), so that a test or a simulator can run them on simulated time. The real clock is the
 * default.
 */

/** An opaque timer handle: whatever the clock's `setTimeout` returned. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the epoch (wall time for the real clock: results and logs carry it). */
  now(): number;
  /** Run `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancel a timer that has not fired; a handle that fired or was cleared is ignored. */
  clearTimeout(handle: TimerHandle): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** `ms` on `clock`: resolves once the clock has advanced that far. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
