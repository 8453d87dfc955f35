/**
 * Which faults a drill may inject where, and the check of a drill's options before anything
 * starts: an operator error says what is wrong and what to give instead. Where is one of three
 * kinds of cluster, each with the capabilities its target has (target.ts); a fault kind runs
 * where its needs (faults.ts `FaultNeeds`) are met.
 */
import { ErrorCode, RuntimeError } from '../../lib/errors.js';
import { kindsOffered, type FaultKind } from './faults.js';
import { MIN_HOSTS, MIN_TASK_EXECUTOR_HOSTS } from './hosts-target.js';
import type { DrillCapability } from './target.js';

/** The most namespace hosts one run can make (198.18.0.1-253). */
export const MAX_HOSTS = 253;

/** Where a drill runs: a local cluster it starts, namespace hosts it makes (`--hosts`), or a running cluster (`--cluster`). */
export type DrillWhere = 'local' | 'hosts' | 'cluster';

/**
 * What each kind of cluster's target can do (local-target.ts, hosts-target.ts, agent-target.ts;
 * runDrill checks the started target has them). On namespace hosts the etcd members are children
 * of the control host's etcd launcher, which the drill cannot ask to restart one; the agents of
 * a running cluster signal and cut but start nothing.
 */
export const CAPABILITIES: Record<DrillWhere, readonly DrillCapability[]> = {
  local: ['start', 'etcd-restart'],
  hosts: ['start', 'links', 'host-kill'],
  cluster: ['links'],
};

/** The default schedule's kinds: every kind the cluster takes. */
export function defaultKinds(hosts: number | undefined, cluster = false): FaultKind[] {
  return kindsOffered(new Set(CAPABILITIES[whereOf({ hosts, cluster })]));
}

export interface DrillShape {
  /** Namespace hosts, or undefined for the local cluster. */
  hosts?: number | undefined;
  /** A running cluster (`--cluster FILE`), drilled through its hosts' agents. */
  cluster?: boolean;
  kinds: readonly FaultKind[];
  taskExecutors: number;
}

function whereOf(o: { hosts?: number | undefined; cluster?: boolean | undefined }): DrillWhere {
  return o.cluster ? 'cluster' : o.hosts === undefined ? 'local' : 'hosts';
}

/** Problems with these options, each saying what to do; empty when the drill can run. */
export function drillOptionProblems(o: DrillShape): string[] {
  const problems: string[] = [];
  if (o.kinds.length === 0) problems.push('no fault kinds: give at least one with --kinds');
  const where = whereOf(o);
  const offered = kindsOffered(new Set(CAPABILITIES[where]));
  const refused = o.kinds.filter((k) => !offered.includes(k));
  const s = refused.length === 1 ? 's' : '';
  const them = refused.length === 1 ? 'it' : 'them';
  if (where === 'cluster') {
    if (o.hosts !== undefined) problems.push('--hosts and --cluster exclude each other: --hosts makes a cluster of its own, --cluster drills one that runs');
    if (refused.length > 0) {
      problems.push(`${refused.join(', ')}: not available with --cluster (the agents signal and cut links, but start nothing: no replacement host, no etcd member restarted); choose from ${offered.join(', ')}`);
    }
    return problems;
  }
  if (where === 'local') {
    if (refused.length > 0) {
      problems.push(`${refused.join(', ')} need${s} a cluster on several hosts: add --hosts ${MIN_HOSTS} (namespace hosts; needs root) or drill a running one with --cluster FILE, or leave ${them} out of --kinds`);
    }
    return problems;
  }
  if (!Number.isInteger(o.hosts) || o.hosts! < MIN_HOSTS || o.hosts! > MAX_HOSTS) {
    problems.push(
      `--hosts ${o.hosts}: a drill on hosts needs ${MIN_HOSTS} to ${MAX_HOSTS} hosts (1 for control, 3 each with an etcd member and a Master, ` +
        `at least ${MIN_TASK_EXECUTOR_HOSTS} for TaskExecutors: the job's 2 and a spare); give --hosts ${MIN_HOSTS} or more`,
    );
  }
  if (o.taskExecutors < MIN_TASK_EXECUTOR_HOSTS) {
    problems.push(`--task-executors ${o.taskExecutors} with --hosts: the job runs on 2 TaskExecutors of one slot each and needs a spare; give --task-executors ${MIN_TASK_EXECUTOR_HOSTS} or more`);
  }
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
