/**
 * The faults only a cluster on several hosts has (`drill --hosts N`, `drill --cluster FILE`),
 * through the target's {@link DrillHosts}. Each ends healed (or with the host revived and its processes replaced), so
 * that the next fault starts from a whole cluster:
 *
 * - partition-leader: the leader's host cut off from every other host until the majority elected
 *   a new leader and the cut one stepped down;
 * - partition-te: the host of a TaskExecutor running the job cut off until the job runs again
 *   without it and the cut one lost its ResourceManager (canceling its stale tasks); after the
 *   heal it must register again;
 * - partition-etcd-member: the host of an etcd member (and of a standby Master) cut off for a
 *   lease TTL + 1 s: the quorum remains, so neither the leader nor the job should change;
 * - one-way-partition: what the leader's host sends to a busy TaskExecutor's host is dropped (the
 *   other way passes), until the job runs again or a lease TTL + the heartbeat timeout passed;
 * - host-kill: a busy TaskExecutor's host dies with its disk; the job recovers elsewhere, then the
 *   host boots again empty and a fresh TaskExecutor replaces each one it held.
 */
import { waitFor } from '../support/wait.js';
import { busyTaskExecutor, DEADLINE, jobNoticed, loggedAfter, newLeader, until, untilRunning } from './fault-steps.js';
import type { DrillContext, FaultMeasure, HostFaultKind } from './faults.js';
import type { DrillHosts } from './target.js';

/** Covers the TaskExecutors' heartbeat timeout (2 s in the drill's clusters) with room to react. */
const HEARTBEAT_ROOM_MS = 3000;

export async function hostFault(kind: HostFaultKind, ctx: DrillContext): Promise<FaultMeasure> {
  const hosts = ctx.target.hosts;
  if (!hosts) throw new RangeError(`${kind} needs a cluster on several hosts; a ${ctx.target.kind} drill has none`);
  switch (kind) {
    case 'partition-leader':
      return partitionLeader(ctx, hosts);
    case 'partition-te':
      return partitionTaskExecutor(ctx, hosts);
    case 'partition-etcd-member':
      return partitionEtcdMember(ctx, hosts);
    case 'one-way-partition':
      return oneWayPartition(ctx, hosts);
    case 'host-kill':
      return hostKill(ctx, hosts);
  }
}

async function partitionLeader(ctx: DrillContext, hosts: DrillHosts): Promise<FaultMeasure> {
  const { target } = ctx;
  const leader = await waitFor('a leader', () => target.leader(), DEADLINE);
  const attempt = (await ctx.client.status(ctx.jobId)).attempt;
  const at = Date.now();
  const cut = await hosts.isolate(leader.host);
  let newLeaderMs: number;
  let steppedDown: string;
  try {
    const next = await newLeader(ctx, leader);
    newLeaderMs = Date.now() - at;
    ctx.log(`  new leader ${next.node} after ${newLeaderMs} ms`);
    // The cut one stops acting on its own, before its lease runs out (the audit checks it did).
    // Where its log cannot be read, the cut is held until its lease surely ran out.
    if (target.hasLog(leader)) {
      await target.waitForLine(leader, loggedAfter('leadership revoked', at), DEADLINE.timeoutMs);
      steppedDown = `the cut leader's step-down seen after ${Date.now() - at} ms`;
    } else {
      await until('the cut leader\'s lease to run out', at + ctx.leaseTtlMs + 1000);
      steppedDown = 'healed after the lease TTL + 1 s (its log is not readable here)';
    }
  } finally {
    await cut.heal();
  }
  const runningAgainMs = await untilRunning(ctx, at, attempt);
  return { kind: 'partition-leader', target: leader.node, at, detectionMs: newLeaderMs, newLeaderMs, runningAgainMs, note: `on ${leader.host}; ${steppedDown}` };
}

async function partitionTaskExecutor(ctx: DrillContext, hosts: DrillHosts): Promise<FaultMeasure> {
  const { target } = ctx;
  const victim = await busyTaskExecutor(ctx);
  const attempt = (await ctx.client.status(ctx.jobId)).attempt;
  const at = Date.now();
  const cut = await hosts.isolate(victim.host);
  let detected: number;
  let runningAgainMs: number | null;
  try {
    detected = await jobNoticed(ctx, attempt);
    // Healed as soon as the job runs elsewhere: the cut one may not have noticed yet. The
    // ResourceManager no longer heartbeats it, so it drops its stale tasks and registers again.
    runningAgainMs = await untilRunning(ctx, at, attempt + 1);
  } finally {
    await cut.heal();
  }
  const healedAt = Date.now();
  // Back, it registers again as a spare (seen where its log can be read).
  let note = 'healed; its registering again not watched (its log is not readable here)';
  if (target.hasLog(victim)) {
    await target.waitForLine(victim, loggedAfter('registered', healedAt), DEADLINE.timeoutMs);
    note = 're-registered after the heal';
  }
  return { kind: 'partition-te', target: `${victim.taskExecutorId} (${victim.host})`, at, detectionMs: detected - at, newLeaderMs: null, runningAgainMs, note };
}

async function partitionEtcdMember(ctx: DrillContext, hosts: DrillHosts): Promise<FaultMeasure> {
  const leader = await waitFor('a leader', () => ctx.target.leader(), DEADLINE);
  const host = hosts.etcdHosts().find((h) => h !== leader.host);
  if (!host) throw new RangeError('no etcd member on a host without the leader');
  const attempt = (await ctx.client.status(ctx.jobId)).attempt;
  const at = Date.now();
  const cut = await hosts.isolate(host);
  try {
    await until('a lease TTL + 1 s with the member cut off', at + ctx.leaseTtlMs + 1000);
  } finally {
    await cut.heal();
  }
  const runningAgainMs = await untilRunning(ctx, at, attempt);
  const after = await ctx.client.status(ctx.jobId);
  const leaderAfter = await ctx.target.leader();
  const notes = [
    leaderAfter?.node === leader.node ? 'leader kept' : `leader changed to ${leaderAfter?.node ?? 'none'}`,
    after.attempt === attempt ? 'job not interrupted' : `job restarted (attempt ${after.attempt})`,
  ];
  return { kind: 'partition-etcd-member', target: `etcd on ${host}`, at, detectionMs: null, newLeaderMs: null, runningAgainMs, note: notes.join(', ') };
}

async function oneWayPartition(ctx: DrillContext, hosts: DrillHosts): Promise<FaultMeasure> {
  const leader = await waitFor('a leader', () => ctx.target.leader(), DEADLINE);
  const victim = await busyTaskExecutor(ctx);
  const attempt = (await ctx.client.status(ctx.jobId)).attempt;
  const at = Date.now();
  const cut = await hosts.partition([leader.host], [victim.host], { oneWay: true });
  let detected: number | null = null;
  try {
    // Held until the job runs again without the link, or long enough that it would have reacted.
    const holdUntil = at + ctx.leaseTtlMs + HEARTBEAT_ROOM_MS;
    await waitFor('the job to run again, or the hold to end', async () => {
      const d = await ctx.client.status(ctx.jobId);
      if (d.attempt > attempt && detected === null) detected = Date.now();
      const restartedAndRunning = d.attempt > attempt && d.state === 'running' && d.subtasks.every((s) => s.state === 'running' || s.state === 'finished');
      return restartedAndRunning || d.state === 'finished' || Date.now() >= holdUntil;
    }, { ...DEADLINE, timeoutMs: ctx.leaseTtlMs + HEARTBEAT_ROOM_MS + 10_000 });
  } finally {
    await cut.heal();
  }
  const runningAgainMs = await untilRunning(ctx, at, attempt);
  const after = (await ctx.client.status(ctx.jobId)).attempt;
  return {
    kind: 'one-way-partition',
    target: `${leader.host} -> ${victim.host} (${victim.taskExecutorId}) dropped`,
    at,
    detectionMs: detected === null ? null : detected - at,
    newLeaderMs: null,
    runningAgainMs,
    note: after === attempt ? 'job not interrupted' : `job restarted (attempt ${after})`,
  };
}

async function hostKill(ctx: DrillContext, hosts: DrillHosts): Promise<FaultMeasure> {
  const { target } = ctx;
  const { killHost, reviveHost } = hosts;
  const startLike = target.startLike?.bind(target);
  if (!killHost || !reviveHost || !startLike) throw new RangeError(`host-kill needs a drill that kills and boots hosts and starts processes; a ${target.kind} drill does not`);
  const victim = await busyTaskExecutor(ctx);
  const lost = target.taskExecutors().filter((p) => p.running && p.host === victim.host);
  const attempt = (await ctx.client.status(ctx.jobId)).attempt;
  const at = Date.now();
  await killHost.call(hosts, victim.host);
  const detected = await jobNoticed(ctx, attempt);
  const reboot = async () => {
    await reviveHost.call(hosts, victim.host);
    for (const p of lost) await startLike(p);
  };
  // A host that held the spare too leaves no free slot: it must come back first.
  if (lost.length > 1) await reboot();
  const runningAgainMs = await untilRunning(ctx, at, attempt + 1);
  if (lost.length <= 1) await reboot();
  return { kind: 'host-kill', target: `${victim.host} (${lost.map((p) => p.taskExecutorId).join(', ')})`, at, detectionMs: detected - at, newLeaderMs: null, runningAgainMs, note: 'host back with an empty disk' };
}
