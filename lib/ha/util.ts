/** Small helpers of the HA services. */
import { monotonicClock, type Clock, type TimerHandle } from '../util/clock.js';

/**
 * Time and timers of the HA services: monotonic in production (`monotonicClock`) so that
 * wall-clock jumps do not upset lease arithmetic; a SimulatedClock in tests.
 */
export { monotonicClock, type Clock };

/** Wait for `promise` at most `ms` on `clock`; never rejects (for best-effort cleanup that must not hang). */
export async function withDeadline<T>(promise: Promise<T>, ms: number, clock: Clock = monotonicClock): Promise<T | undefined> {
  let timer: TimerHandle | undefined;
  try {
    return await Promise.race([
      promise.catch(() => undefined),
      new Promise<undefined>((resolve) => {
        timer = clock.setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer);
  }
}
