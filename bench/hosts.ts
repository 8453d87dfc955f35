/**
 * Across hosts: an HA cluster on network-namespace hosts (scripts/support/netns/), real etcd,
 * real processes, an S3-compatible store (s3rver) on a host of its own. Needs root, `ip` and
 * `nft`; without them it stops at once with what is missing.
 *
 * Layout: h0 runs the etcd launcher and the clients (bench/support/hosts-client.ts: this
 * process, in the root namespace, reaches no host address); h1..h3 an etcd member and a Master
 * each; h4 and h5 a TaskExecutor with one slot each; h6 the spare; h7 the object store.
 * Checkpoints go to s3://, as a cluster across machines would have them.
 *
 * What is measured:
 *  - leader partition → new leader (last, see leaderPartitions): the leader's host is cut off
 *    from every other host (nftables); from the start of the cut to the majority's new leader's
 *    `leadership granted` (its log's time: one clock on one machine); heal; wait until the
 *    cluster settles; repeat against whichever Master leads then. etcd's own leader is first moved
 *    off the cut host (as hosts-failover.test.ts does): what is measured is our election, not
 *    etcd's. Every Master has all three etcd endpoints: its client passes over the cut one
 *    (lib/ha/etcd-host-health.ts).
 *  - host kill → job running: a checkpointed keyed count (parallelism 2) runs on h4 and h5 with
 *    a spare registered; the host of one of its TaskExecutors is killed (its processes, its disk,
 *    its link); from the kill to the first status in which a later attempt runs every subtask,
 *    none on the dead TaskExecutor (the client polls every 20 ms). The host is revived and a new
 *    spare started on it before the next sample.
 *  - checkpoint of ~100 MB keyed state (bench/jobs/big-state.ts, as bench/checkpoint.ts): the
 *    JobMaster's duration (trigger to completion) of the big job's final checkpoint, to s3://
 *    on this cluster, and to file:// on a second set of Masters and TaskExecutors of their own
 *    cluster id, on the same hosts and etcd (the checkpoint location is a Master's setting),
 *    interleaved; the median of each, and the fastest of each (the least disturbed by the others
 *    who share this machine).
 */
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { distRoot, killAll, type Proc } from '../scripts/support/launcher.js';
import { startHaProcesses, type HaProcesses } from '../scripts/support/local-ha.js';
import { startNetnsHaCluster, type NetnsHaCluster } from '../scripts/support/netns-ha.js';
import { NetnsHosts, type NetnsHost } from '../scripts/support/netns/hosts.js';
import { NetnsErrorCode } from '../scripts/support/netns/errors.js';
import { waitFor } from '../scripts/support/wait.js';
import { startS3Server, type TestS3Server } from '../test/support/s3-server.js';
import type { CheckpointStats } from '../actors/jobmaster/checkpoint-coordinator.js';
import { round, writeResult } from './support/report.js';
import {
  agreedLeader,
  largestCompleted,
  leadsNow,
  recordLeadership,
  runningAgain,
  summarize,
  type LeadershipLog,
  type MasterAnswer,
  type StatusLine,
} from './support/hosts-stats.js';

const CLIENT = 'bench/support/hosts-client.js';
const BUCKET = 'flinkish-bench';
const LEASE_TTL_MS = 3000; // the configuration's default (leaseTtlSeconds)
const HEARTBEAT_INTERVAL_MS = 300;
const HEARTBEAT_TIMEOUT_MS = 2000;
const HOST_KILL_TARGET_MS = 3000;
const S3_VS_FILE_TARGET = 2;
const benchJob = (name: string) => path.join(distRoot, 'bench', 'jobs', `${name}.js`);

type Line = Record<string, unknown>;

/** The JSON lines a client printed of one event, kept whole (the launcher's buffer keeps only the last lines). */
function collect(proc: Proc): Map<string, Line[]> {
  const byEvent = new Map<string, Line[]>();
  proc.onLine((line) => {
    if (!line.startsWith('{')) return;
    try {
      const value = JSON.parse(line) as Line;
      if (typeof value['event'] === 'string') {
        const list = byEvent.get(value['event']) ?? [];
        list.push(value);
        byEvent.set(value['event'], list);
      }
    } catch {
      // not ours
    }
  });
  return byEvent;
}

interface Client {
  proc: Proc;
  events: Map<string, Line[]>;
  statuses(): StatusLine[];
  result(): Line | undefined;
}

async function startClient(control: NetnsHost, env: Record<string, string>, args: string[], name: string): Promise<Client> {
  const proc = await control.launch(CLIENT, { args, env, name, readyTimeoutMs: 60_000 });
  const events = collect(proc);
  return {
    proc,
    events,
    statuses: () => (events.get('status') ?? []) as unknown as StatusLine[],
    result: () => events.get('result')?.[0],
  };
}

const jobArgs = (job: string, parallelism: number, args: Record<string, unknown>): string[] => [
  '--job',
  job,
  '--parallelism',
  String(parallelism),
  ...Object.entries(args).flatMap(([k, v]) => ['--arg', `${k}=${v}`]),
];

/** Leadership changes of every Master, as they log them. */
function watchLeadership(masters: readonly Proc[]): Map<Proc, LeadershipLog> {
  const logs = new Map<Proc, LeadershipLog>();
  for (const m of masters) {
    const log: LeadershipLog = { granted: [], revoked: [] };
    for (const line of m.output) recordLeadership(log, line);
    m.onLine((line) => recordLeadership(log, line));
    logs.set(m, log);
  }
  return logs;
}

interface PartitionSample {
  newLeaderMs: number;
  stepDownMs: number;
  applyMs: number;
  /** The new leader was granted before the isolated one stepped down: never expected. */
  overlap: boolean;
}

/**
 * Leader partitions, one sample each until `samples` are taken. Before each cut the cluster must
 * be settled: every Master names the same leader and none has gained or lost leadership for a
 * lease TTL (a heal can move leadership: before etcd's members ran with --pre-vote, the healed
 * member deposed etcd's leader, and the Masters' leadership moved twice after every heal). A cut whose leader had lost
 * leadership before it took effect measures nothing: it is not counted, and a new one is tried.
 */
async function leaderPartitions(net: NetnsHosts, cluster: NetnsHaCluster, samples: number): Promise<{ samples: PartitionSample[]; discarded: number }> {
  const control = net.hosts[0]!;
  const rests = cluster.masters.map((m) => String(m.ready['rest']));
  const watcher = await startClient(control, cluster.env, ['--rest', rests.join(',')], 'masters-watch');
  const logs = watchLeadership(cluster.masters);
  const nodeOf = (rest: string) => cluster.masters.find((m) => m.ready['rest'] === rest)?.ready['node'] as string | undefined;
  const lastChange = () => Math.max(0, ...[...logs.values()].flatMap((l) => [...l.granted, ...l.revoked]));
  const agreedNow = () => {
    const last = watcher.events.get('masters')?.at(-1);
    return last ? agreedLeader(last['masters'] as MasterAnswer[], cluster.masters.length, nodeOf) : undefined;
  };
  const settled = () =>
    waitFor('every Master agreeing on one leader, and no leadership change for a lease TTL', () => {
      const agreed = agreedNow();
      const leader = cluster.masters.find((m) => m.ready['rest'] === agreed);
      return leader && leadsNow(logs.get(leader)!) && Date.now() - lastChange() > LEASE_TTL_MS ? leader : undefined;
    }, { timeoutMs: 60_000, intervalMs: 50 }).catch((err: Error) => {
      throw new Error(`${err.message}; the Masters answer: ${JSON.stringify(watcher.events.get('masters')?.at(-1))}`);
    });
  const result: PartitionSample[] = [];
  let discarded = 0;
  try {
    while (result.length < samples) {
      if (discarded > samples) throw new Error(`${discarded} leader partitions measured nothing (leadership moved before the cut): the cluster does not settle`);
      const leader = await settled();
      await cluster.moveEtcdLeaderAwayFrom(cluster.hostOf(leader));
      if (cluster.masters.find((m) => m.ready['rest'] === agreedNow()) !== leader || !leadsNow(logs.get(leader)!)) {
        discarded++; // moving etcd's leader moved ours
        continue;
      }
      const host = cluster.hostOf(leader);
      const grantedBefore = logs.get(leader)!.granted.at(-1)!;
      const cutAt = Date.now();
      const cut = await net.isolate(host);
      const applyMs = Date.now() - cutAt;
      try {
        const revokedBy = (t: number) => logs.get(leader)!.revoked.find((r) => r > grantedBefore && r <= t);
        const outcome = await waitFor('a new leader on the majority side', () => {
          for (const m of cluster.masters) if (m !== leader) {
            const grantedAt = logs.get(m)!.granted.find((g) => g > grantedBefore);
            if (grantedAt === undefined) continue;
            // Granted before the cut (its log line came late): the leader had lost leadership already.
            return grantedAt > cutAt ? { grantedAt } : { before: true as const };
          }
          return undefined;
        }, { timeoutMs: 30_000 }).catch((err: Error) => {
          throw new Error(`${err.message}; the Masters answer: ${JSON.stringify(watcher.events.get('masters')?.at(-1))}`);
        });
        if ('before' in outcome || revokedBy(cutAt) !== undefined) {
          discarded++;
          continue;
        }
        const { grantedAt } = outcome;
        const revokedAt = await waitFor('the isolated leader stepped down', () => revokedBy(Infinity), { timeoutMs: 30_000 });
        result.push({ newLeaderMs: grantedAt - cutAt, stepDownMs: revokedAt - cutAt, applyMs, overlap: grantedAt <= revokedAt });
        console.error(`hosts: leader cut off: new leader after ${grantedAt - cutAt} ms, old one stepped down after ${revokedAt - cutAt} ms (cut applied in ${applyMs} ms)`);
      } finally {
        await cut.heal();
      }
    }
  } finally {
    await watcher.proc.stop();
  }
  return { samples: result, discarded };
}

async function bigCheckpoint(control: NetnsHost, env: Record<string, string>, stateBytes: number, name: string): Promise<CheckpointStats> {
  const valueBytes = 1024;
  const client = await startClient(control, env, jobArgs(benchJob('big-state'), 2, { keys: Math.round(stateBytes / valueBytes), valueBytes }), name);
  try {
    const result = await waitFor(`the ${name} job's result`, () => client.result(), { timeoutMs: 300_000, intervalMs: 50 });
    if (result['state'] !== 'finished') throw new Error(`${name} job ${String(result['state'])}: ${JSON.stringify(result['failure'] ?? result['error'])}`);
    const largest = largestCompleted(result['checkpoints'] as CheckpointStats[]);
    if (!largest) throw new Error(`the ${name} job completed no checkpoint`);
    console.error(`hosts: ${name}: ${largest.bytes} bytes checkpointed in ${largest.durationMs} ms`);
    return largest;
  } finally {
    await client.proc.stop();
  }
}

/** Masters and TaskExecutors of a second cluster id on the same hosts and etcd, checkpointing to a directory. */
function startFileCluster(cluster: NetnsHaCluster, masterHost: NetnsHost, teHosts: NetnsHost[], env: Record<string, string>): Promise<HaProcesses> {
  const workDir = path.join(cluster.workDir, 'file-baseline');
  const hostOf = (role: 'master' | 'taskexecutor', i: number) => (role === 'master' ? masterHost : teHosts[i]!);
  // Own work dirs on the host's disk: the TaskExecutors' ids are those of the main cluster's.
  const onHost = (role: 'master' | 'taskexecutor') => (i: number) => ['--host', hostOf(role, i).address, '--work-dir', path.join(hostOf(role, i).dataDir, 'file-baseline')];
  return startHaProcesses({
    etcd: cluster.etcd,
    workDir,
    masters: 1,
    taskExecutors: teHosts.length,
    slots: 1,
    env: { ...env, FLINKISH_CHECKPOINT_DIR: `file://${path.join(workDir, 'checkpoints')}`, FLINKISH_SAVEPOINT_DIR: `file://${path.join(workDir, 'savepoints')}` },
    masterArgs: onHost('master'),
    taskExecutorArgs: onHost('taskexecutor'),
    launchOn: (role, i) => (script, options) => hostOf(role, i).launch(script, options),
  });
}

const registered = (cluster: NetnsHaCluster, id: string) =>
  waitFor(`TaskExecutor ${id} registered`, () => cluster.masters.some((m) => m.output.some((l) => l.includes('"msg":"TaskExecutor registered"') && l.includes(`"taskExecutor":"${id}"`))), { timeoutMs: 30_000 });

async function hostKills(net: NetnsHosts, cluster: NetnsHaCluster, teHosts: NetnsHost[], samples: number): Promise<number[]> {
  const control = net.hosts[0]!;
  const output = path.join(cluster.workDir, 'host-kill-out');
  const args = { records: 1_000_000_000, keys: 16, output, recordsPerSecond: 2000, checkpointMs: 200 };
  const job = await startClient(control, cluster.env, jobArgs(path.join(distRoot, 'scripts', 'jobs', 'keyed-count.js'), 2, args), 'host-kill-job');
  const result: number[] = [];
  try {
    /** A status after `since` with the job on two TaskExecutors and a checkpoint completed later than `after`. */
    const checkpointed = (since: number, after: number) =>
      waitFor('the job running on two TaskExecutors with a new completed checkpoint', () =>
        job.statuses().findLast((s) => s.time > since && s.running && (s.lastCheckpoint ?? 0) > after && s.taskExecutors?.length === 2 && s.taskExecutors.every((t) => typeof t === 'string')), { timeoutMs: 60_000 });
    await waitFor('the job running', () => job.statuses().some((s) => s.running), { timeoutMs: 60_000 });
    // The spare once the job holds its slots (it must not get one of them), while the first checkpoint is taken.
    const spare = await cluster.startTaskExecutor();
    await registered(cluster, String(spare.ready['taskExecutorId']));
    let since = 0;
    let lastCheckpoint = 0;
    for (let i = 0; i < samples; i++) {
      // A checkpoint after the last recovery: each sample restores a state of its own attempt.
      const before = await checkpointed(since, lastCheckpoint);
      const victimId = before.taskExecutors![0]!;
      const victim = cluster.taskExecutors.find((p) => p.running && p.ready['taskExecutorId'] === victimId);
      if (!victim) throw new Error(`the job runs on ${victimId}, which is no TaskExecutor of the cluster`);
      const host = cluster.hostOf(victim);
      const killedAt = Date.now();
      await host.kill();
      const again = await waitFor('the job running again without the dead host', () => runningAgain(job.statuses(), killedAt, before.attempt ?? 0, victimId), { timeoutMs: 60_000, intervalMs: 10 });
      result.push(again.time - killedAt);
      console.error(`hosts: host ${host.name} killed: the job runs again after ${again.time - killedAt} ms`);
      since = again.time;
      lastCheckpoint = before.lastCheckpoint ?? 0;
      // The host boots again, empty; a new spare on it if another sample follows.
      await host.revive();
      if (i + 1 < samples) {
        teHosts.push(host);
        const next = await cluster.startTaskExecutor();
        await registered(cluster, String(next.ready['taskExecutorId']));
      }
    }
  } finally {
    await job.proc.stop();
  }
  return result;
}

export async function run(quick: boolean): Promise<void> {
  // quick: the whole run within 30 s on a loaded machine
  const partitionSamples = quick ? 1 : 5;
  const killSamples = quick ? 1 : 5;
  const checkpointSamples = quick ? 1 : 5;
  const stateMb = quick ? 20 : 100;
  let net: NetnsHosts;
  try {
    net = await NetnsHosts.create({ hosts: 8 });
  } catch (err) {
    if ((err as { code?: unknown }).code === NetnsErrorCode.Unavailable) {
      console.error(`hosts bench: ${(err as Error).message}`);
      process.exit(1);
    }
    throw err;
  }
  const [control, m1, m2, m3, t1, t2, spare, store] = net.hosts as [NetnsHost, NetnsHost, NetnsHost, NetnsHost, NetnsHost, NetnsHost, NetnsHost, NetnsHost];
  let s3: TestS3Server | undefined;
  let cluster: NetnsHaCluster | undefined;
  let fileCluster: HaProcesses | undefined;
  let completed = false;
  const began = Date.now();
  const loadAtStart = loadavg()[0]!;
  const phase = (what: string) => console.error(`hosts: ${what} at ${((Date.now() - began) / 1000).toFixed(1)} s`);
  try {
    s3 = await startS3Server([BUCKET], { host: store });
    const env = {
      FLINKISH_LEASE_TTL_SECONDS: String(LEASE_TTL_MS / 1000),
      FLINKISH_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_INTERVAL_MS),
      FLINKISH_HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS),
      FLINKISH_METRICS_PORT: '-1',
      FLINKISH_SLOT_MEMORY_MB: '1024',
      FLINKISH_S3_ENDPOINT: s3.endpoint,
      FLINKISH_S3_PATH_STYLE: 'true',
      ...s3.env,
    };
    const teHosts = [t1, t2, spare]; // grows as killed hosts come back with a new spare
    cluster = await startNetnsHaCluster({
      control,
      etcdHosts: [m1, m2, m3],
      masterHosts: [m1, m2, m3],
      taskExecutorHosts: teHosts,
      taskExecutors: 2, // the spare starts once the job fills the two others
      slots: 1,
      env: { ...env, FLINKISH_CHECKPOINT_DIR: `s3://${BUCKET}/checkpoints`, FLINKISH_SAVEPOINT_DIR: `s3://${BUCKET}/savepoints` },
    });

    phase('cluster started');

    fileCluster = await startFileCluster(cluster, m1, [t1, t2], env);
    phase('file:// cluster started');
    const s3Ms: number[] = [];
    const fileMs: number[] = [];
    let s3Bytes = 0;
    let fileBytes = 0;
    for (let i = 0; i < checkpointSamples; i++) {
      const onS3 = await bigCheckpoint(control, cluster.env, stateMb * 1024 * 1024, 's3-checkpoint');
      s3Ms.push(onS3.durationMs!);
      s3Bytes = onS3.bytes;
      const onFile = await bigCheckpoint(control, fileCluster.env, stateMb * 1024 * 1024, 'file-checkpoint');
      fileMs.push(onFile.durationMs!);
      fileBytes = onFile.bytes;
    }
    await fileCluster.stop();
    fileCluster = undefined;

    phase('checkpoints done');
    const kills = await hostKills(net, cluster, teHosts, killSamples);
    phase('host kills done');
    // Last: after a heal the cluster takes a while to settle (see leaderPartitions).
    const { samples: partitions, discarded } = await leaderPartitions(net, cluster, partitionSamples);
    phase('leader partitions done');

    const newLeader = summarize(partitions.map((p) => p.newLeaderMs));
    const stepDown = summarize(partitions.map((p) => p.stepDownMs));
    const kill = summarize(kills);
    const s3Checkpoint = summarize(s3Ms);
    const fileCheckpoint = summarize(fileMs);
    const size = `${stateMb}mb`;
    writeResult({
      name: 'hosts',
      quick,
      metrics: {
        partition_leader_to_new_leader_ms_p50: newLeader.p50,
        partition_leader_to_new_leader_ms_max: newLeader.max,
        partition_leader_to_new_leader_target_ms: LEASE_TTL_MS + 1000,
        partition_leader_step_down_ms_p50: stepDown.p50,
        partition_leader_samples: newLeader.count,
        partition_leader_overlaps: partitions.filter((p) => p.overlap).length,
        partition_leader_discarded: discarded,
        partition_apply_ms_p50: summarize(partitions.map((p) => p.applyMs)).p50,
        lease_ttl_ms: LEASE_TTL_MS,
        host_kill_to_job_running_ms_p50: kill.p50,
        host_kill_to_job_running_ms_max: kill.max,
        host_kill_to_job_running_target_ms: HOST_KILL_TARGET_MS,
        host_kill_samples: kill.count,
        [`checkpoint_ms_s3_${size}`]: s3Checkpoint.p50,
        [`checkpoint_ms_s3_${size}_min`]: s3Checkpoint.min,
        checkpoint_bytes_s3: s3Bytes,
        checkpoint_state_mb: stateMb,
        checkpoint_samples: s3Checkpoint.count,
      },
      baselines: {
        [`checkpoint_ms_file_${size}`]: fileCheckpoint.p50,
        [`checkpoint_ms_file_${size}_min`]: fileCheckpoint.min,
        checkpoint_bytes_file: fileBytes,
      },
      ratios: {
        s3_vs_file_checkpoint: round(s3Checkpoint.p50 / fileCheckpoint.p50),
        s3_vs_file_checkpoint_target: S3_VS_FILE_TARGET,
        /** The fastest of each: what is left when the shared machine's interference is least. */
        s3_vs_file_checkpoint_min: round(s3Checkpoint.min / fileCheckpoint.min),
        partition_new_leader_vs_target: round(newLeader.p50 / (LEASE_TTL_MS + 1000)),
        host_kill_vs_target: round(kill.p50 / HOST_KILL_TARGET_MS),
      },
      notes: [
        `load average (1 min) ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end, on ${cpus().length} cores shared with other work: with more than a few, each figure varies by tens of percent from run to run`,
        quick
          ? `quick: ${partitionSamples} leader partition, ${killSamples} host kill, ${checkpointSamples} checkpoint of each kind, ${stateMb} MB of keyed state (not 100 MB)`
          : `${partitionSamples} leader partitions, ${killSamples} host kills, ${checkpointSamples} checkpoints of each kind (interleaved), ${stateMb} MB of keyed state; p50 = median`,
        `8 network-namespace hosts on one bridge: etcd + Master on 3, TaskExecutors (1 slot) on 2 + a spare, s3rver 3.7.1 on its own; lease TTL ${LEASE_TTL_MS} ms, heartbeats every ${HEARTBEAT_INTERVAL_MS} ms, timeout ${HEARTBEAT_TIMEOUT_MS} ms (the configuration's default is 5000: a dead host is noticed by the heartbeat timeout)`,
        'leader partition: from the start of the cut (applying the nftables rules takes partition_apply_ms) to the new leader\'s "leadership granted"; etcd\'s leader moved off the cut host first; every Master has all three etcd endpoints',
        'host kill: from the kill (link down, SIGKILL of every process of the host, disk deleted) to a later attempt running every subtask, seen by a client polling every 20 ms; keyed count at parallelism 2, checkpoints every 200 ms to s3://, restart delay 100 ms',
        'checkpoint: the JobMaster\'s duration (trigger to completion) of the big-state job\'s final checkpoint at parallelism 2 (two snapshots of half the state each, one PutObject each); file:// on a second cluster id on the same hosts and etcd; _min and s3_vs_file_checkpoint_min: the fastest of each kind',
      ],
    });
    completed = true;
  } finally {
    await Promise.all([fileCluster?.stop(), cluster?.stop({ keepWorkDir: !completed }), s3?.stop()].map(async (p) => p?.catch(() => undefined)));
    if (!completed && cluster) console.error(`hosts: failed; the cluster's logs are kept in ${cluster.logsDir}`);
    await killAll();
    await net.destroy();
  }
}
