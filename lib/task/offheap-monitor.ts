/**
 * Off-heap accounting of a task's worker thread. The slot's heap limit
 * (`resourceLimits.maxOldGenerationSizeMb`) does not cover Buffers and ArrayBuffers: their
 * memory lives outside V8's heap. V8 cannot cap it, so it is MEASURED: every `intervalMs` the
 * worker reads its own isolate's external memory (`v8.getHeapStatistics().external_memory`,
 * per isolate: a worker's count starts near zero and covers only what it holds) and reports
 * once the count stays above the limit on two consecutive checks (one reading may include
 * garbage that V8 has not yet collected). The check runs when the worker's event loop turns,
 * so a single synchronous burst of allocation is seen only once it yields.
 */
import { getHeapStatistics } from 'node:v8';
import { every, realClock, type Clock } from '../util/clock.js';

export const DEFAULT_OFFHEAP_CHECK_MS = 100;

export interface OffHeapMonitorOptions {
  limitBytes: number;
  intervalMs?: number;
  /** Called once, with the measured external memory, when the limit is passed. */
  onExceeded(usedBytes: number): void;
  /** The measurement (this isolate's external memory by default). */
  measure?: () => number;
  /** Timers of the checks (the real clock by default). */
  clock?: Clock;
}

/** Starts checking; returns the function that stops it. The timer never keeps a worker alive. */
export function watchOffHeapMemory(options: OffHeapMonitorOptions): () => void {
  const measure = options.measure ?? (() => getHeapStatistics().external_memory);
  let overOnce = false;
  const check = (): void => {
    const used = measure();
    if (used <= options.limitBytes) {
      overOnce = false;
      return;
    }
    if (!overOnce) {
      overOnce = true;
      return;
    }
    stop();
    options.onExceeded(used);
  };
  const stop = every(options.clock ?? realClock, options.intervalMs ?? DEFAULT_OFFHEAP_CHECK_MS, check, { unref: true });
  return stop;
}
