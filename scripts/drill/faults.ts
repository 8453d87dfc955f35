/**
 * The faults a drill injects into a running HA cluster, and what it measures for each:
 * - detection: until the cluster noticed (for the leader: its key is gone and another Master
 *   leads; for a TaskExecutor: the job left `running`; etcd: not applicable);
 * - new leader: until another Master leads (leader faults only);
 * - running again: until every subtask of the job runs again.
 */
import type { ClusterClient } from '../../lib/client/cluster-client.js';
import type { HaCluster } from '../support/local-ha.js';
import type { Proc } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';
import { ErrorCode, RuntimeError } from '../../lib/errors.js';

export const FaultKinds = ['leader-kill', 'leader-pause', 'te-kill', 'etcd-kill'] as const;
/** Faults of links between hosts: only a drill across hosts can inject them (`drill --cluster`, agent-target.ts). */
export const PartitionFaultKinds = ['partition-leader', 'partition-te', 'one-way-partition'] as const;
export type FaultKind = (typeof FaultKinds)[number] | (typeof PartitionFaultKinds)[number];

export interface FaultOutcome {
  kind: FaultKind;
  target: string;
  at: number;
  detectionMs: number | null;
  newLeaderMs: number | null;
  runningAgainMs: number | null;
  note?: string;
}

/** What every fault needs, whatever the cluster: a client, the job, the lease TTL, a progress log. */
export interface FaultContext {
  client: ClusterClient;
  jobId: string;
  leaseTtlMs: number;
  log(line: string): void;
}

export interface DrillContext extends FaultContext {
  cluster: HaCluster;
}

/** How long a fault may take to be noticed and recovered from. */
export const DEADLINE = { timeoutMs: 60_000, intervalMs: 20 };

export async function inject(kind: FaultKind, ctx: DrillContext): Promise<FaultOutcome> {
  switch (kind) {
    case 'leader-kill':
      return leaderFault(ctx, 'leader-kill');
    case 'leader-pause':
      return leaderFault(ctx, 'leader-pause');
    case 'te-kill':
      return taskExecutorKill(ctx);
    case 'etcd-kill':
      return etcdKill(ctx);
    case 'partition-leader':
    case 'partition-te':
    case 'one-way-partition':
      throw new RuntimeError(ErrorCode.InvalidArgument, `${kind}: the local drill's processes share one host, there is no link to cut; drill a cluster across hosts (drill --cluster FILE)`);
  }
}

async function leaderFault(ctx: DrillContext, kind: 'leader-kill' | 'leader-pause'): Promise<FaultOutcome> {
  const { cluster, client } = ctx;
  const leader = await waitFor('a leader', () => cluster.leader(client), DEADLINE);
  const attempt = (await client.status(ctx.jobId)).attempt;
  const at = Date.now();
  if (kind === 'leader-kill') leader.kill('SIGKILL');
  else leader.pause();
  const next = await waitFor('a new leader', () => {
    const m = cluster.leader(client);
    return m && m !== leader ? m : undefined;
  }, DEADLINE);
  const newLeaderMs = Date.now() - at;
  ctx.log(`  new leader ${next.ready['node']} after ${newLeaderMs} ms`);
  let note: string | undefined;
  if (kind === 'leader-pause') {
    // Keep it stopped past its lease, then let the zombie wake up: it must step down, not act.
    const wakeAt = at + ctx.leaseTtlMs + 1000;
    await waitFor('the zombie lease to run out', () => Date.now() >= wakeAt, { timeoutMs: ctx.leaseTtlMs + 5000, intervalMs: 50 });
    leader.resume();
    await leader.waitForLine((line) => line.includes('leadership revoked'), 20_000);
    note = 'zombie woke and stepped down';
    ctx.log(`  the paused leader woke after ${Date.now() - at} ms and stepped down`);
  } else {
    await cluster.startMaster(); // a fresh standby keeps the cluster at size
  }
  const runningAgainMs = await untilRunning(ctx, at, attempt);
  return { kind, target: String(leader.ready['node']), at, detectionMs: newLeaderMs, newLeaderMs, runningAgainMs, ...(note ? { note } : {}) };
}

async function taskExecutorKill(ctx: DrillContext): Promise<FaultOutcome> {
  const { cluster, client } = ctx;
  const details = await client.status(ctx.jobId);
  const teId = details.subtasks.find((s) => s.taskExecutorId)?.taskExecutorId;
  const victim: Proc | undefined = cluster.taskExecutors.find((p) => p.running && p.name === `taskexecutor-${teId}`);
  if (!victim) throw new Error(`no running TaskExecutor ${teId} to kill`);
  const at = Date.now();
  victim.kill('SIGKILL');
  const detected = await waitFor('the job to notice', async () => {
    const d = await client.status(ctx.jobId);
    return d.state !== 'running' || d.attempt > details.attempt ? Date.now() : undefined;
  }, DEADLINE);
  await cluster.startTaskExecutor();
  const runningAgainMs = await untilRunning(ctx, at, details.attempt);
  return { kind: 'te-kill', target: teId!, at, detectionMs: detected - at, newLeaderMs: null, runningAgainMs };
}

async function etcdKill(ctx: DrillContext): Promise<FaultOutcome> {
  const member = ctx.cluster.etcd.members.find((m) => m.running);
  if (!member || ctx.cluster.etcd.members.filter((m) => m.running).length < 3) {
    return { kind: 'etcd-kill', target: '-', at: Date.now(), detectionMs: null, newLeaderMs: null, runningAgainMs: null, note: 'skipped: would lose quorum' };
  }
  const at = Date.now();
  member.kill('SIGKILL');
  // The job must not be interrupted; give it a moment of work, then bring the member back.
  const before = (await ctx.client.status(ctx.jobId)).attempt;
  await member.restart();
  const after = await ctx.client.status(ctx.jobId);
  const note = after.attempt === before ? 'job not interrupted' : `job restarted (attempt ${after.attempt})`;
  return { kind: 'etcd-kill', target: member.name, at, detectionMs: null, newLeaderMs: null, runningAgainMs: 0, note };
}

/** Until every subtask runs again (in any attempt at or after `attempt`), or the job ended. */
export async function untilRunning(ctx: FaultContext, at: number, attempt: number): Promise<number | null> {
  const done = await waitFor('the job to run again', async () => {
    const d = await ctx.client.status(ctx.jobId);
    if (d.state === 'finished') return 'ended';
    return d.state === 'running' && d.attempt >= attempt && d.subtasks.every((s) => s.state === 'running' || s.state === 'finished')
      ? 'running'
      : undefined;
  }, DEADLINE);
  return done === 'running' ? Date.now() - at : null;
}
