/**
 * Whether and when a failed job restarts, per its restart strategy (Flink's four):
 * - none: never;
 * - fixed-delay: up to `attempts` restarts, `delayMs` apart;
 * - exponential-delay: the delay doubles (times `multiplier`) up to `maxDelayMs`, and falls back
 *   to the initial delay after `resetAfterMs` without failures;
 * - failure-rate: restart after `delayMs` unless more than `maxFailures` happened within `intervalMs`.
 */
import type { RestartStrategy } from '../../lib/dataflow/job-config.js';

export type RestartDecision = { restart: true; delayMs: number } | { restart: false; reason: string };

export class RestartBackoff {
  private failures: number[] = [];
  private currentDelayMs = 0;
  private lastFailureAt: number | null = null;

  /** `restarts`: restarts so far, under earlier leaders too (they count against the strategy). */
  constructor(
    private readonly strategy: RestartStrategy,
    private restarts = 0,
  ) {}

  get restartCount(): number {
    return this.restarts;
  }

  onFailure(now: number): RestartDecision {
    const s = this.strategy;
    const decision = this.decide(now);
    this.lastFailureAt = now;
    if (decision.restart) this.restarts++;
    if (s.type === 'failure-rate') this.failures.push(now);
    return decision;
  }

  private decide(now: number): RestartDecision {
    const s = this.strategy;
    switch (s.type) {
      case 'none':
        return { restart: false, reason: 'the restart strategy is none' };
      case 'fixed-delay':
        if (this.restarts >= s.attempts) return { restart: false, reason: `exhausted the ${s.attempts} restart attempts of fixed-delay` };
        return { restart: true, delayMs: s.delayMs };
      case 'exponential-delay': {
        const calm = this.lastFailureAt !== null && now - this.lastFailureAt >= s.resetAfterMs;
        this.currentDelayMs =
          this.currentDelayMs === 0 || calm ? s.initialDelayMs : Math.min(s.maxDelayMs, Math.round(this.currentDelayMs * s.multiplier));
        return { restart: true, delayMs: this.currentDelayMs };
      }
      case 'failure-rate': {
        this.failures = this.failures.filter((t) => now - t < s.intervalMs);
        if (this.failures.length >= s.maxFailures) {
          return { restart: false, reason: `more than ${s.maxFailures} failures within ${s.intervalMs} ms (failure-rate)` };
        }
        return { restart: true, delayMs: s.delayMs };
      }
    }
  }
}
