/**
 * At most one log line per kind and interval. A stranger can make us refuse, drop or fail to
 * reach things as often as it likes; each refusal must not cost a log line, or the log becomes
 * the state it grows. Lines left out are counted and reported with the next line of that kind.
 * Keys are kinds chosen by the caller (a fixed set), never peer names: the map must stay small.
 *
 * @example
 * const throttle = new LogThrottle(10_000);
 * const pass = throttle.admit('dead-letter');
 * if (pass) log.warn({ ...fields, suppressed: pass.suppressed }, 'dead letter');
 */
import { realClock } from './clock.js';

export class LogThrottle {
  private readonly kinds = new Map<string, { lastAt: number; suppressed: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = realClock.now,
  ) {}

  /** `{ suppressed }` (lines left out since the last one of this kind) when a line may be written, else null. */
  admit(kind: string): { suppressed: number } | null {
    const at = this.now();
    const entry = this.kinds.get(kind);
    if (entry === undefined) {
      this.kinds.set(kind, { lastAt: at, suppressed: 0 });
      return { suppressed: 0 };
    }
    if (at - entry.lastAt < this.intervalMs) {
      entry.suppressed++;
      return null;
    }
    const suppressed = entry.suppressed;
    entry.lastAt = at;
    entry.suppressed = 0;
    return { suppressed };
  }
}
