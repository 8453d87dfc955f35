/**
 * Job-level settings a job module makes on its environment: checkpointing and the restart
 * strategy. Plain data: it travels with the job graph to the JobMaster.
 */
import { InvalidJobGraphError } from './errors.js';

export interface CheckpointConfig {
  /** Time between the triggers of periodic checkpoints. */
  intervalMs: number;
  /** A checkpoint not completed within this is aborted and its files removed. */
  timeoutMs: number;
  /** Least time between the end of one checkpoint and the trigger of the next. */
  minPauseMs: number;
  /** Checkpoints in flight at once. */
  maxConcurrent: number;
  /** Completed checkpoints kept in the store; older ones are subsumed and deleted. */
  retained: number;
  /**
   * Incremental checkpoints (default true): a checkpoint writes only the key groups changed
   * since the previous one and refers to earlier files for the rest. Savepoints are always full.
   */
  incremental?: boolean;
}

export type RestartStrategy =
  | { type: 'none' }
  | { type: 'fixed-delay'; attempts: number; delayMs: number }
  | { type: 'exponential-delay'; initialDelayMs: number; maxDelayMs: number; multiplier: number; resetAfterMs: number }
  | { type: 'failure-rate'; maxFailures: number; intervalMs: number; delayMs: number };

export interface JobConfig {
  checkpointing: CheckpointConfig | null;
  restartStrategy: RestartStrategy;
}

export const defaultCheckpointConfig = (intervalMs: number): CheckpointConfig => ({
  intervalMs,
  timeoutMs: 10 * 60_000,
  minPauseMs: 0,
  maxConcurrent: 1,
  retained: 3,
  incremental: true,
});

/** Flink's defaults: no restarts without checkpointing; with it, fixed delay (effectively always). */
export function defaultRestartStrategy(checkpointing: boolean): RestartStrategy {
  return checkpointing ? { type: 'fixed-delay', attempts: 2 ** 31 - 1, delayMs: 1000 } : { type: 'none' };
}

export function validateCheckpointConfig(c: CheckpointConfig): CheckpointConfig {
  positive('checkpoint interval', c.intervalMs, 10);
  positive('checkpoint timeout', c.timeoutMs, 1);
  positive('checkpoint min pause', c.minPauseMs, 0);
  positive('max concurrent checkpoints', c.maxConcurrent, 1);
  positive('retained checkpoints', c.retained, 1);
  if (c.incremental !== undefined && typeof c.incremental !== 'boolean') throw new InvalidJobGraphError(undefined, `incremental checkpoints must be true or false, got ${JSON.stringify(c.incremental)}`);
  return c;
}

export function validateRestartStrategy(s: RestartStrategy): RestartStrategy {
  switch (s.type) {
    case 'none':
      return s;
    case 'fixed-delay':
      positive('restart attempts', s.attempts, 0);
      positive('restart delay', s.delayMs, 0);
      return s;
    case 'exponential-delay':
      positive('restart initial delay', s.initialDelayMs, 0);
      positive('restart max delay', s.maxDelayMs, s.initialDelayMs);
      if (!(s.multiplier >= 1)) throw new InvalidJobGraphError(undefined, `restart backoff multiplier must be >= 1, got ${s.multiplier}`);
      positive('restart reset-after', s.resetAfterMs, 1);
      return s;
    case 'failure-rate':
      positive('restart max failures', s.maxFailures, 1);
      positive('restart failure-rate interval', s.intervalMs, 1);
      positive('restart delay', s.delayMs, 0);
      return s;
    default:
      throw new InvalidJobGraphError(undefined, `unknown restart strategy ${JSON.stringify((s as { type?: unknown }).type)}; use none, fixed-delay, exponential-delay or failure-rate`);
  }
}

function positive(what: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new InvalidJobGraphError(undefined, `${what} must be an integer >= ${min}, got ${value}`);
}
