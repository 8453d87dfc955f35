/**
 * One simulation run: a seed, a number of faults, optionally a mutant. The cluster starts, its
 * job runs through the faults, and the invariants are checked after every step; the run ends
 * at the first violation, once the job has ended after the faults, or at the liveness bound.
 * The same seed (and options) gives the same trace.
 */
import { DEFAULT_SHAPE, SimCluster, type ClusterShape } from './cluster.js';
import { scheduleFaults } from './faults.js';
import { InvariantChecker, type Violation } from './invariants.js';
import type { Mutant } from './mutants.js';

export interface RunOptions {
  faults: number;
  mutant: Mutant | null;
  shape?: ClusterShape;
  /** Faults start within this window (ms since the start). */
  faultWindow?: { startMs: number; endMs: number };
  /** After the last fault heals, the job must be running or ended within this long. */
  livenessBoundMs?: number;
}

export interface RunResult {
  seed: number;
  violations: Violation[];
  trace: string[];
  steps: number;
  /** Simulated ms at the end. */
  simulatedMs: number;
  /** How the job ended, or null if it was still running at the end. */
  jobResult: string | null;
}

export async function runSeed(seed: number, options: RunOptions): Promise<RunResult> {
  const checker = new InvariantChecker();
  const cluster = new SimCluster(seed, options.shape ?? DEFAULT_SHAPE, options.mutant, checker);
  checker.attach(cluster);
  const { scheduler } = cluster;
  await cluster.submitJob();
  cluster.processes.forEach((p, i) => scheduler.at(i * 10, `START ${p.name}`, () => cluster.startLoudly(p)));
  const window = options.faultWindow ?? { startMs: 1500, endMs: 9000 };
  const quietFrom = Math.max(window.startMs, scheduleFaults(cluster, options.faults, window));
  const bound = options.livenessBoundMs ?? 40_000;
  const endAt = quietFrom + bound;
  while (scheduler.elapsed <= endAt) {
    if (!(await scheduler.step())) break;
    await checker.check();
    if (checker.violations.length > 0) break;
    if (checker.jobResult !== null && scheduler.elapsed > quietFrom) break;
  }
  if (checker.violations.length === 0) checker.checkLiveness(bound);
  return { seed, violations: checker.violations, trace: scheduler.trace, steps: scheduler.steps, simulatedMs: scheduler.elapsed, jobResult: checker.jobResult };
}
