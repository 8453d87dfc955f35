/**
 * Failover: kill -9 the leading Master of a local HA cluster (3 etcd members) running a
 * checkpointed job, several times, and measure until another Master leads (its `leadership
 * granted` line), whether the job restarted (its attempt number), the longest pause of output
 * reaching the sink, and the next completed checkpoint; then pause etcd followers (SIGSTOP,
 * quorum intact) and count leader changes. Against a bare etcd election with the same lease TTL
 * in the same run (two contender processes, the leader killed), which waits out the lease: the
 * floor a failover sits on without proof of death (lib/ha/leader-death.ts).
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { createEtcdClient } from '../lib/ha/etcd-client.js';
import { startEtcdCluster, type EtcdMember } from '../lib/ha/etcd-server.js';
import { etcdCredentialEnv } from '../lib/ha/etcd-auth.js';
import type { ClusterClient } from '../lib/client/cluster-client.js';
import { distRoot, killAll, launch, type Proc } from '../scripts/support/launcher.js';
import { startHaCluster, type HaCluster } from '../scripts/support/local-ha.js';
import { waitFor } from '../scripts/support/wait.js';
import { percentile, round, writeResult } from './support/report.js';

const TTL_SECONDS = 3;
const CHECKPOINT_MS = 200;

async function bareElectionFailovers(rounds: number): Promise<number[]> {
  const etcd = await startEtcdCluster({ members: 1 });
  const samples: number[] = [];
  try {
    const env = { ETCD_ENDPOINTS: etcd.endpoints.join(','), ...etcdCredentialEnv(etcd.credentials), CLUSTER_ID: `bench-${Date.now()}`, LEASE_TTL_SECONDS: String(TTL_SECONDS) };
    const contenders: Proc[] = [];
    const start = () => launch('bench/support/contender.js', { env, name: `contender-${contenders.length}` }).then((p) => (contenders.push(p), p));
    await start();
    await start();
    for (let i = 0; i < rounds; i++) {
      const leader = await waitFor('a leading contender', () => contenders.find((p) => p.running && lastLeading(p)), { timeoutMs: 20_000 });
      const killedAt = Date.now();
      leader.kill('SIGKILL');
      await waitFor('another contender to lead', () => contenders.find((p) => p !== leader && p.running && lastLeading(p)), {
        timeoutMs: 20_000,
        intervalMs: 5,
      });
      samples.push(Date.now() - killedAt);
      await start();
    }
  } finally {
    await etcd.stop();
  }
  return samples;
}

function lastLeading(p: Proc): boolean {
  const line = [...p.output].reverse().find((l) => l.includes('"leading"'));
  return line !== undefined && (JSON.parse(line) as { leading: boolean }).leading;
}

/**
 * When output reached the sink: the sink's files (in-progress and committed) polled every 10 ms,
 * an arrival whenever one grew. The sink writes at least at every barrier (CHECKPOINT_MS), so
 * that is the resolution of the gaps measured.
 */
function watchSink(dir: string): { arrivals: number[]; stop(): void } {
  // By inode and birth time: a committed file is its in-progress file renamed (no new output), and
  // a file deleted on restore and written again under the same name (or inode) is a new one.
  const sizes = new Map<string, number>();
  const arrivals: number[] = [];
  const timer = setInterval(() => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return; // not created yet
    }
    let grew = false;
    for (const name of names) {
      let stat: { ino: number; birthtimeMs: number; size: number };
      try {
        stat = statSync(path.join(dir, name));
      } catch {
        continue; // renamed or deleted meanwhile
      }
      const file = `${stat.ino}:${stat.birthtimeMs}`;
      if (stat.size > (sizes.get(file) ?? 0)) grew = true;
      sizes.set(file, Math.max(stat.size, sizes.get(file) ?? 0));
    }
    if (grew) arrivals.push(Date.now());
  }, 10);
  return { arrivals, stop: () => clearInterval(timer) };
}

/** The longest interval between arrivals from the last one before `from` to the last one before `to`. */
function longestGap(arrivals: number[], from: number, to: number): number {
  const before = arrivals.filter((t) => t <= from).at(-1) ?? from;
  const span = [before, ...arrivals.filter((t) => t > from && t <= to)];
  let gap = 0;
  for (let i = 1; i < span.length; i++) gap = Math.max(gap, span[i]! - span[i - 1]!);
  return Math.max(gap, to - span.at(-1)!);
}

/** The time of a process's first log line with `msg` after `since` (pino's epoch-ms `time`). */
function loggedAfter(proc: Proc, msg: string, since: number): number | undefined {
  for (const line of proc.output) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    const time = (JSON.parse(line) as { time: number }).time;
    if (time >= since) return time;
  }
  return undefined;
}

interface KillSample {
  newLeaderMs: number;
  restarts: number;
  outputGapMs: number;
  firstCheckpointMs: number;
  byProof: boolean;
}

async function killLeader(cluster: HaCluster, client: ClusterClient, jobId: string, watch: { arrivals: number[] }, replace: boolean): Promise<KillSample> {
  await waitFor('the job to run with a checkpoint', async () => {
    const d = await client.status(jobId);
    return d.subtasks.length > 0 && d.subtasks.every((s) => s.state === 'running') && d.checkpoints.some((c) => c.status === 'completed');
  }, { timeoutMs: 60_000 });
  const leader = await waitFor('the leader', () => cluster.leader(client), { timeoutMs: 20_000 });
  const standbys = cluster.masters.filter((m) => m !== leader && m.running);
  // A standby holds its link to this leader: without it there is no proof, only the lease.
  await waitFor('a standby linked to the leader', () =>
    standbys.some((s) => s.output.some((l) => l.includes('linked to the leader') && l.includes(`"leader":"${String(leader.ready['node'])}"`))),
  { timeoutMs: 20_000 });
  const attemptBefore = (await client.status(jobId)).attempt;
  const killedAt = Date.now();
  leader.kill('SIGKILL');
  const grantedAt = await waitFor('a new leader', () => standbys.map((s) => loggedAfter(s, 'leadership granted', killedAt)).find((t) => t !== undefined), {
    timeoutMs: 30_000,
    intervalMs: 5,
  });
  const byProof = standbys.some((s) => loggedAfter(s, 'revoked the term of a leader proven dead', killedAt) !== undefined);
  const firstCheckpointAt = await waitFor('a checkpoint completed after the kill', async () => {
    const d = await client.status(jobId).catch(() => null);
    const done = d?.checkpoints.filter((c) => c.status === 'completed' && !c.savepoint).map((c) => c.triggeredAt + (c.durationMs ?? 0)).filter((t) => t > killedAt);
    return done && done.length > 0 ? Math.min(...done) : undefined;
  }, { timeoutMs: 60_000, intervalMs: 10 });
  const attemptAfter = (await client.status(jobId)).attempt;
  // Output after the failover: the gap is over once records flow again for a while.
  const settledAt = await waitFor('output to flow again', () => {
    const after = watch.arrivals.filter((t) => t > Math.max(grantedAt, firstCheckpointAt));
    return after.length >= 3 ? after[2] : undefined;
  }, { timeoutMs: 30_000, intervalMs: 10 });
  // A fresh standby for the next kill (leader changes during the etcd pauses show in the log either way).
  if (replace) await cluster.startMaster();
  return {
    newLeaderMs: grantedAt - killedAt,
    restarts: attemptAfter - attemptBefore,
    outputGapMs: longestGap(watch.arrivals, killedAt, settledAt),
    firstCheckpointMs: firstCheckpointAt - killedAt,
    byProof,
  };
}

/** Pause an etcd follower (not etcd's own leader: that would be an etcd election, another fault) and count leader changes. */
async function pauseEtcdFollower(cluster: HaCluster, round: number, pauseMs: number): Promise<number> {
  const etcd = createEtcdClient({ ...cluster.etcd.clientOptions });
  let paused: EtcdMember | undefined;
  try {
    const [status, list] = await Promise.all([etcd.maintenance.status(), etcd.cluster.memberList({ linearizable: true })]);
    const leaderUrl = list.members.find((m) => m.ID === status.leader)!.clientURLs[0];
    const followers = cluster.etcd.members.filter((m) => m.running && m.clientUrl !== leaderUrl);
    paused = followers[round % followers.length]!;
    const grants = () => cluster.masters.reduce((n, m) => n + m.output.filter((l) => l.includes('"msg":"leadership granted"') || l.includes('"msg":"leadership revoked"')).length, 0);
    const before = grants();
    const pausedAt = Date.now();
    await paused.pause();
    await waitFor('the pause to last', () => Date.now() - pausedAt >= pauseMs, { timeoutMs: pauseMs + 5000, intervalMs: 50 });
    paused.resume();
    paused = undefined;
    const changes = grants() - before;
    return changes;
  } finally {
    paused?.resume();
    etcd.close();
  }
}

export async function run(quick: boolean): Promise<void> {
  const kills = quick ? 2 : 5;
  const pauses = quick ? 2 : 4;
  // Past the leader's step-down deadline (2/3 of the TTL) at least; a whole lease and more in a full run.
  const pauseMs = quick ? 2200 : TTL_SECONDS * 1000 + 500;
  try {
    const bare = await bareElectionFailovers(quick ? 2 : 5);
    const cluster = await startHaCluster({ etcdMembers: 3, masters: 2, taskExecutors: 2, slots: 2, env: { FLINKISH_LEASE_TTL_SECONDS: String(TTL_SECONDS) } });
    const samples: KillSample[] = [];
    const pauseChanges: number[] = [];
    try {
      const client = await cluster.client();
      const output = path.join(cluster.workDir, 'out');
      const watch = watchSink(output);
      try {
        const jobId = await client.submitFile(path.join(distRoot, 'scripts', 'jobs', 'keyed-count.js'), {
          args: { records: 1_000_000_000, keys: 16, output, recordsPerSecond: 2000, checkpointMs: CHECKPOINT_MS }, // runs until cancelled
        });
        for (let i = 0; i < kills; i++) samples.push(await killLeader(cluster, client, jobId, watch, i < kills - 1));
        for (let i = 0; i < pauses; i++) pauseChanges.push(await pauseEtcdFollower(cluster, i, pauseMs));
        await client.cancel(jobId);
      } finally {
        watch.stop();
      }
    } finally {
      await cluster.stop();
    }
    const p50 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
    const newLeader = samples.map((s) => s.newLeaderMs);
    writeResult({
      name: 'failover',
      quick,
      metrics: {
        leader_kill_to_new_leader_ms_p50: p50(newLeader),
        leader_kill_to_new_leader_ms_max: Math.max(...newLeader),
        job_restarts_on_leader_failover: samples.reduce((n, s) => n + s.restarts, 0),
        output_gap_ms_max: Math.max(...samples.map((s) => s.outputGapMs)),
        first_checkpoint_after_failover_ms: Math.max(...samples.map((s) => s.firstCheckpointMs)),
        etcd_member_pause_leader_changes: pauseChanges.reduce((n, c) => n + c, 0),
        takeovers_by_proof_of_death: samples.filter((s) => s.byProof).length,
        faults: kills,
        etcd_member_pauses: pauses,
        lease_ttl_s: TTL_SECONDS,
        checkpoint_interval_ms: CHECKPOINT_MS,
      },
      baselines: { etcd_election_failover_ms_p50: p50(bare) },
      ratios: { new_leader_vs_bare_election: round(p50(newLeader) / p50(bare)) },
      notes: [
        `${kills} leader kills: new leader ${newLeader.join(', ')} ms; output gaps ${samples.map((s) => s.outputGapMs).join(', ')} ms; ` +
          `first checkpoint after ${samples.map((s) => s.firstCheckpointMs).join(', ')} ms; job restarts ${samples.map((s) => s.restarts).join(', ')}`,
        `bare election samples: ${bare.join(', ')} ms`,
        `${pauses} etcd follower pauses of ${pauseMs} ms (quorum intact): leadership grants/revocations ${pauseChanges.join(', ')}`,
        'output gap: sink files polled every 10 ms; the sink writes at each barrier, so gaps are at the checkpoint interval\'s resolution',
        'first_checkpoint_after_failover_ms and output_gap_ms_max: the largest over the kills',
      ],
    });
  } finally {
    await killAll();
  }
}
