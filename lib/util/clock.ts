/**
 * Time and timers, injected: every actor of an ActorSystem reads the time and arms its timers
 * through the system's clock (xstate's delayed events and transitions too, as its `clock`
 * option), and so do its transport's connections; the other components with timers (data
 * connections, the HA services, singletons, the cluster client, tasks) take a clock too. A test
 * or a simulator runs them on simulated time; the real clock is the default. This module is the
 * only one that calls Node's timers and `Date.now` (eslint.config.js enforces it).
 */

/** An opaque timer handle: whatever the clock's `setTimeout` returned. */
export type TimerHandle = unknown;

export interface TimerOptions {
  /**
   * The timer alone does not keep the process alive (Node's `unref`): for heartbeats, reconnects
   * and grace periods that must not hold up an exit. Simulated time ignores it.
   */
  unref?: boolean;
}

export interface Clock {
  /** Milliseconds since the epoch (wall time for the real clock: results and logs carry it). */
  now(): number;
  /** Run `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number, options?: TimerOptions): TimerHandle;
  /** Cancel a timer that has not fired; a handle that fired or was cleared is ignored. */
  clearTimeout(handle: TimerHandle): void;
}

function realSetTimeout(fn: () => void, ms: number, options?: TimerOptions): TimerHandle {
  const timer = setTimeout(fn, ms);
  if (options?.unref) timer.unref();
  return timer;
}

function realClearTimeout(handle: TimerHandle): void {
  clearTimeout(handle as NodeJS.Timeout);
}

/** Wall time and Node's timers: the default of every component that takes a clock. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: realSetTimeout,
  clearTimeout: realClearTimeout,
};

/**
 * Node's timers with a monotonic `now` (milliseconds since the process started): for lease
 * and deadline arithmetic that a wall-clock jump must not upset (the HA services). Never a
 * timestamp for anybody else.
 */
export const monotonicClock: Clock = {
  now: () => performance.now(),
  setTimeout: realSetTimeout,
  clearTimeout: realClearTimeout,
};

/** Stops a repeating timer (see `every`); calling it again does nothing. */
export type StopTimer = () => void;

/**
 * Run `fn` every `ms` on `clock` until stopped: setInterval on any clock. Each run is armed when
 * the previous one ran, so a stalled event loop delays the next run rather than bunching them.
 */
export function every(clock: Clock, ms: number, fn: () => void, options?: TimerOptions): StopTimer {
  let stopped = false;
  let handle: TimerHandle;
  const tick = (): void => {
    if (stopped) return;
    handle = clock.setTimeout(tick, ms, options);
    fn();
  };
  handle = clock.setTimeout(tick, ms, options);
  return () => {
    stopped = true;
    clock.clearTimeout(handle);
  };
}

/** `ms` on `clock`: resolves once the clock has advanced that far. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
