/**
 * One job module is evaluated at a time, and only a few wait: the Master's memory for builds
 * stays at one build's limits however many modules are submitted at once, and the growth of
 * the process while a build runs is that build's own (job-sandbox.ts measures it). A
 * submission beyond the waiting room is refused at once (JOB_BUILD_BUSY), not queued without
 * bound behind modules that may each take `jobBuildTimeoutMs`.
 */
import { JobBuildError, JobBuildErrorCode } from './errors.js';

interface Waiter {
  start: () => void;
  onAbort: () => void;
}

export class BuildGate {
  private running = false;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly maxWaiting: number) {}

  /** Runs `build` once the builds before it have ended; rejects at once when too many wait. */
  async run<T>(name: string, build: () => Promise<T>, signal?: AbortSignal, cancelled?: () => Error): Promise<T> {
    await this.enter(name, signal, cancelled);
    try {
      return await build();
    } finally {
      this.leave();
    }
  }

  private enter(name: string, signal: AbortSignal | undefined, cancelled: (() => Error) | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(cancelled ? cancelled() : new Error('aborted'));
    if (!this.running) {
      this.running = true;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxWaiting) {
      return Promise.reject(
        new JobBuildError(
          JobBuildErrorCode.BuildBusy,
          `job module ${name}: the Master is building another module and ${this.waiting.length} more wait; submit again shortly`,
          { module: name, waiting: this.waiting.length },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener('abort', waiter.onAbort);
          resolve();
        },
        onAbort: () => {
          const at = this.waiting.indexOf(waiter);
          if (at !== -1) this.waiting.splice(at, 1);
          reject(cancelled ? cancelled() : new Error('aborted'));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private leave(): void {
    const next = this.waiting.shift();
    if (next) next.start();
    else this.running = false;
  }
}
