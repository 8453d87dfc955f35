/**
 * The faults a drill injects into a running HA cluster, and what it measures for each:
 * - detection: until the cluster noticed (for the leader: its key is gone and another Master
 *   leads; for a TaskExecutor: the job left `running`; etcd: not applicable);
 * - new leader: until another Master leads (leader faults only);
 * - running again: until every subtask of the job runs again.
 * The faults of links and hosts (`drill --hosts N`, `drill --cluster FILE`) are in host-faults.ts;
 * both act only through the {@link DrillTarget}, whatever it is.
 */
import { waitFor } from '../support/wait.js';
import { busyTaskExecutor, DEADLINE, loggedAfter, newLeader, untilRunning } from './fault-steps.js';
import { hostFault } from './host-faults.js';
import type { DrillCapability, DrillClient, DrillProcess, DrillTarget } from './target.js';

/** Faults any cluster takes (the local drill's). */
export const FaultKinds = ['leader-kill', 'leader-pause', 'te-kill', 'etcd-kill'] as const;
/** Faults only a cluster on several hosts takes (`drill --hosts N`, `--cluster FILE`); see host-faults.ts. */
export const HostFaultKinds = ['partition-leader', 'partition-te', 'partition-etcd-member', 'one-way-partition', 'host-kill'] as const;
export const AllFaultKinds = [...FaultKinds, ...HostFaultKinds] as const;
export type FaultKind = (typeof AllFaultKinds)[number];
export type HostFaultKind = (typeof HostFaultKinds)[number];
/** Faults that take the leading Master out at `at` (the leadership timeline ends its term there). */
export const LeaderFaultKinds: readonly FaultKind[] = ['leader-kill', 'leader-pause', 'partition-leader'];

/**
 * What each kind needs of its target (target.ts); a kind whose needs a target lacks is refused
 * before the drill starts. A killed Master or TaskExecutor is replaced where the target can
 * start one and left dead where it cannot (the cluster's spares take over): no need.
 */
export const FaultNeeds: Record<FaultKind, readonly DrillCapability[]> = {
  'leader-kill': [],
  'leader-pause': [],
  'te-kill': [],
  'etcd-kill': ['etcd-restart'],
  'partition-leader': ['links'],
  'partition-te': ['links'],
  'partition-etcd-member': ['links'],
  'one-way-partition': ['links'],
  'host-kill': ['links', 'host-kill', 'start'],
};

/** The kinds a target with these capabilities takes. */
export function kindsOffered(capabilities: ReadonlySet<DrillCapability>): FaultKind[] {
  return AllFaultKinds.filter((k) => FaultNeeds[k].every((c) => capabilities.has(c)));
}

export function isHostFault(kind: FaultKind): kind is HostFaultKind {
  return (HostFaultKinds as readonly string[]).includes(kind);
}

export interface FaultOutcome {
  kind: FaultKind;
  target: string;
  at: number;
  detectionMs: number | null;
  newLeaderMs: number | null;
  runningAgainMs: number | null;
  /** Within this fault's window (until the next fault, or the job's end): how long no Master led (see timeline.ts). */
  withoutLeaderMs: number | null;
  /** Within the same window: the longest time the job's committed output did not grow. */
  longestOutputGapMs: number | null;
  /** Leader faults: whether the job restarted (a new attempt) instead of being adopted by the new leader. */
  jobRestarted?: boolean;
  note?: string;
}

/** What a fault function measures; the drill adds the timeline's figures once the job ended. */
export type FaultMeasure = Omit<FaultOutcome, 'withoutLeaderMs' | 'longestOutputGapMs'>;

export interface DrillContext {
  target: DrillTarget;
  client: DrillClient;
  jobId: string;
  leaseTtlMs: number;
  log(line: string): void;
}

export async function inject(kind: FaultKind, ctx: DrillContext): Promise<FaultMeasure> {
  if (isHostFault(kind)) return hostFault(kind, ctx);
  switch (kind) {
    case 'leader-kill':
      return leaderFault(ctx, 'leader-kill');
    case 'leader-pause':
      return leaderFault(ctx, 'leader-pause');
    case 'te-kill':
      return taskExecutorKill(ctx);
    case 'etcd-kill':
      return etcdKill(ctx);
  }
}

async function leaderFault(ctx: DrillContext, kind: 'leader-kill' | 'leader-pause'): Promise<FaultMeasure> {
  const { target, client } = ctx;
  const leader = await waitFor('a leader', () => target.leader(), DEADLINE);
  const attempt = (await client.status(ctx.jobId)).attempt;
  const at = Date.now();
  await target.signal(leader, kind === 'leader-kill' ? 'SIGKILL' : 'SIGSTOP');
  const next = await newLeader(ctx, leader);
  const newLeaderMs = Date.now() - at;
  ctx.log(`  new leader ${next.node} after ${newLeaderMs} ms`);
  let note: string | undefined;
  if (kind === 'leader-pause') {
    // Keep it stopped past its lease, then let the zombie wake up: it must step down, not act.
    const wakeAt = at + ctx.leaseTtlMs + 1000;
    await waitFor('the zombie lease to run out', () => Date.now() >= wakeAt, { timeoutMs: ctx.leaseTtlMs + 5000, intervalMs: 50 });
    await target.signal(leader, 'SIGCONT');
    if (target.hasLog(leader)) {
      await target.waitForLine(leader, loggedAfter('leadership revoked', at), 20_000);
      note = 'zombie woke and stepped down';
      ctx.log(`  the paused leader woke after ${Date.now() - at} ms and stepped down`);
    } else {
      note = 'zombie woke (its log is not readable here: the audit judges it)';
    }
  } else {
    note = await replace(target, leader); // a fresh standby keeps the cluster at size
  }
  const runningAgainMs = await untilRunning(ctx, at, attempt);
  // The new leader adopts what still runs: the attempt goes on unless something else failed too.
  const jobRestarted = (await client.status(ctx.jobId)).attempt > attempt;
  if (jobRestarted) note = `${note ? `${note}; ` : ''}job restarted instead of adopted`;
  return { kind, target: leader.node, at, detectionMs: newLeaderMs, newLeaderMs, runningAgainMs, jobRestarted, ...(note ? { note } : {}) };
}

async function taskExecutorKill(ctx: DrillContext): Promise<FaultMeasure> {
  const { target, client } = ctx;
  const details = await client.status(ctx.jobId);
  const victim = await busyTaskExecutor(ctx);
  const teId = victim.taskExecutorId;
  const at = Date.now();
  await target.signal(victim, 'SIGKILL');
  const detected = await waitFor('the job to notice', async () => {
    const d = await client.status(ctx.jobId);
    return d.state !== 'running' || d.attempt > details.attempt ? Date.now() : undefined;
  }, DEADLINE);
  const note = await replace(target, victim);
  const runningAgainMs = await untilRunning(ctx, at, details.attempt);
  return { kind: 'te-kill', target: teId!, at, detectionMs: detected - at, newLeaderMs: null, runningAgainMs, ...(note ? { note } : {}) };
}

/** Start a replacement for the killed `process` where the target can; else say that none was. */
async function replace(target: DrillTarget, process: DrillProcess): Promise<string | undefined> {
  if (!target.startLike) return 'not replaced: this drill starts no process';
  await target.startLike(process);
  return undefined;
}

async function etcdKill(ctx: DrillContext): Promise<FaultMeasure> {
  if (!ctx.target.killEtcdMember) throw new RangeError(`a ${ctx.target.kind} drill cannot kill etcd members`);
  const at = Date.now();
  const member = await ctx.target.killEtcdMember();
  if (!member) {
    return { kind: 'etcd-kill', target: '-', at, detectionMs: null, newLeaderMs: null, runningAgainMs: null, note: 'skipped: would lose quorum' };
  }
  // The job must not be interrupted; give it a moment of work, then bring the member back.
  const before = (await ctx.client.status(ctx.jobId)).attempt;
  await member.restart();
  const after = await ctx.client.status(ctx.jobId);
  const note = after.attempt === before ? 'job not interrupted' : `job restarted (attempt ${after.attempt})`;
  return { kind: 'etcd-kill', target: member.name, at, detectionMs: null, newLeaderMs: null, runningAgainMs: 0, note };
}
