/**
 * Which faults a drill may inject where, and the check of a drill's options before anything
 * starts: an operator error says what is wrong and what to give instead.
 */
import { ErrorCode, RuntimeError } from '../../lib/errors.js';
import { FaultKinds, HostFaultKinds, isHostFault, type FaultKind } from './faults.js';
import { MIN_HOSTS, MIN_TASK_EXECUTOR_HOSTS } from './hosts-target.js';

/** The most namespace hosts one run can make (198.18.0.1-253). */
export const MAX_HOSTS = 253;

/**
 * Faults a drill on namespace hosts cannot inject: its etcd members are children of the control
 * host's etcd launcher, which the drill cannot ask to restart one (cut one off instead).
 */
const NOT_ON_HOSTS: readonly FaultKind[] = ['etcd-kill'];

/** The default schedule's kinds: every kind the cluster kind takes. */
export function defaultKinds(hosts: number | undefined): FaultKind[] {
  return hosts === undefined ? [...FaultKinds] : [...FaultKinds.filter((k) => !NOT_ON_HOSTS.includes(k)), ...HostFaultKinds];
}

export interface DrillShape {
  /** Namespace hosts, or undefined for the local cluster. */
  hosts?: number | undefined;
  kinds: readonly FaultKind[];
  taskExecutors: number;
}

/** Problems with these options, each saying what to do; empty when the drill can run. */
export function drillOptionProblems(o: DrillShape): string[] {
  const problems: string[] = [];
  if (o.kinds.length === 0) problems.push('no fault kinds: give at least one with --kinds');
  if (o.hosts === undefined) {
    const needHosts = o.kinds.filter(isHostFault);
    if (needHosts.length > 0) {
      problems.push(`${needHosts.join(', ')} need${needHosts.length === 1 ? 's' : ''} a cluster on several hosts: add --hosts ${MIN_HOSTS} (namespace hosts; needs root), or leave ${needHosts.length === 1 ? 'it' : 'them'} out of --kinds`);
    }
    return problems;
  }
  if (!Number.isInteger(o.hosts) || o.hosts < MIN_HOSTS || o.hosts > MAX_HOSTS) {
    problems.push(
      `--hosts ${o.hosts}: a drill on hosts needs ${MIN_HOSTS} to ${MAX_HOSTS} hosts (1 for control, 3 each with an etcd member and a Master, ` +
        `at least ${MIN_TASK_EXECUTOR_HOSTS} for TaskExecutors: the job's 2 and a spare); give --hosts ${MIN_HOSTS} or more`,
    );
  }
  if (o.taskExecutors < MIN_TASK_EXECUTOR_HOSTS) {
    problems.push(`--task-executors ${o.taskExecutors} with --hosts: the job runs on 2 TaskExecutors of one slot each and needs a spare; give --task-executors ${MIN_TASK_EXECUTOR_HOSTS} or more`);
  }
  const refused = o.kinds.filter((k) => NOT_ON_HOSTS.includes(k));
  if (refused.length > 0) {
    problems.push(`${refused.join(', ')} cannot run with --hosts (the drill cannot restart an etcd member there); use partition-etcd-member instead`);
  }
  return problems;
}

/** Throws INVALID_ARGUMENT listing every problem of {@link drillOptionProblems}. */
export function validateDrillOptions(o: DrillShape): void {
  const problems = drillOptionProblems(o);
  if (problems.length > 0) throw new RuntimeError(ErrorCode.InvalidArgument, `drill: ${problems.join('; ')}`, { details: { problems } });
}
