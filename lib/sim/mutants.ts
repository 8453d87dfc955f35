/**
 * Mutants: each turns off one safety mechanism, through explicit switches that the simulator
 * passes down (a TaskExecutor's test hook, the simulated etcd's and task runtime's options).
 * The simulator must find a violation for each: that is what proves its checks can fail.
 */
import type { EtcdMutants } from './etcd.js';
import type { TaskMutants } from './task-runtime.js';

export const MUTANTS = {
  /** TaskExecutors accept commands of any leader session. */
  'te-session-check': 'TaskExecutors accept commands from any leader session',
  /** Writes to etcd are not guarded by the leadership (neither locally nor by etcd's compare). */
  'etcd-write-guard': 'writes to etcd are not guarded by the leadership',
  /** A Master keeps leading past the point where its lease may have expired. */
  'step-down': 'a Master does not step down before its lease can expire',
  /** Barriers are not aligned: channels whose barrier came first are processed on. */
  'barrier-alignment': 'barriers are not aligned',
  /** The sink writes records at once instead of committing them on checkpoint completion. */
  'sink-commit': 'the sink does not commit on checkpoint completion',
} as const;

export type Mutant = keyof typeof MUTANTS;

export function isMutant(name: string): name is Mutant {
  return Object.hasOwn(MUTANTS, name);
}

export function mutantSwitches(mutant: Mutant | null): { etcd: EtcdMutants; task: TaskMutants; teAcceptAnySession: boolean } {
  return {
    etcd: { noWriteGuard: mutant === 'etcd-write-guard', noStepDown: mutant === 'step-down' },
    task: { noAlignment: mutant === 'barrier-alignment', noCommitOnCheckpoint: mutant === 'sink-commit' },
    teAcceptAnySession: mutant === 'te-session-check',
  };
}
