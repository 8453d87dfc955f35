/**
 * Scale: N TaskExecutors with one slot each register with one ResourceManager (a real Master
 * with etcd, through the local HA harness) and heartbeat; a job at parallelism N is deployed
 * and checkpointed. The TaskExecutors run as whole actor systems, several per process
 * (bench/support/taskexecutor-host.ts), to fit a small machine. The same steps with few
 * TaskExecutors in the same run are the baselines, so the ratios show how each cost grows.
 *
 * How things are measured:
 *  - register: from spawning the host processes until the ResourceManager lists all N
 *    (includes starting the processes, N actor systems and N etcd clients);
 *  - rm busy ratio: CPU time of the Master's main thread (/proc/PID/task/PID/stat: only the
 *    thread that runs the actors, not GC helpers or the libuv pool) over a window in which the
 *    N TaskExecutors only heartbeat (no job, no clients polling), minus the same Master's share
 *    with no TaskExecutor (measured after the baseline phase, warm): what the heartbeats and their slot reports cost;
 *  - deploy: from submitting the job until every subtask is running (includes the job's build
 *    in the Master's sandbox);
 *  - checkpoint: the JobMaster's own duration of each completed checkpoint (trigger to
 *    completion), median;
 *  - etcd writes per checkpoint: etcd's own counters (/metrics of the member) across a window
 *    of completed checkpoints: write transactions (the store revision, which every write
 *    transaction advances by one) and keys put or deleted, divided by the checkpoints
 *    completed in the window.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { distRoot, killAll, launch, type Proc } from '../scripts/support/launcher.js';
import { startHaCluster, type HaCluster } from '../scripts/support/local-ha.js';
import { waitFor } from '../scripts/support/wait.js';
import type { ClusterClient } from '../lib/client/cluster-client.js';
import { percentile, round, writeResult } from './support/report.js';

const HEARTBEAT_INTERVAL_MS = 1000; // the configuration's default
const HEARTBEAT_TIMEOUT_MS = 10_000; // above the default 5000: 256 actor systems booting on 2 cores starve each other
const CHECKPOINT_MS = 500;

interface Phase {
  taskExecutors: number;
  hosts: number;
  registerMs: number;
  busyRatio: number;
  heartbeatsPerSecond: number;
  deployMs: number;
  checkpointMsP50: number;
  checkpointMsMax: number;
  checkpoints: number;
  etcdWriteTxnsPerCheckpoint: number;
  etcdKeysWrittenPerCheckpoint: number;
  etcdBytesInPerCheckpoint: number;
  masterCpuMsPerCheckpoint: number;
  /** Master main-thread share while the job runs and checkpoints (heartbeats, task metrics, checkpoints, status polls). */
  masterBusyRunning: number;
  /** While the phase ran, until its TaskExecutors were stopped. */
  leadershipLosses: number;
  taskExecutorsLost: number;
  /** Job restarts until every subtask ran and the checkpoints were taken. */
  restarts: number;
}

/** Seconds of CPU the main thread of `pid` has used (user + system). */
function mainThreadCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  // Fields after the command (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** Share of one core the main thread of `pid` used over `ms`. */
async function busyShare(pid: number, ms: number): Promise<number> {
  const cpu0 = mainThreadCpuSeconds(pid);
  const t0 = Date.now();
  await new Promise((resolve) => setTimeout(resolve, ms)); // a measuring window, not a wait for a condition
  return (mainThreadCpuSeconds(pid) - cpu0) / ((Date.now() - t0) / 1000);
}

async function etcdCounters(cluster: HaCluster): Promise<{ revision: number; keys: number; bytesIn: number }> {
  const text = await (await fetch(`${cluster.etcd.members[0]!.clientUrl}/metrics`)).text();
  const value = (name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    if (!line) throw new Error(`etcd's /metrics has no ${name}`);
    return Number(line.slice(name.length + 1));
  };
  return {
    revision: value('etcd_debugging_mvcc_current_revision'),
    keys: value('etcd_mvcc_put_total') + value('etcd_mvcc_delete_total'),
    // Everything etcd's clients sent it, keepalives and watch traffic of the N TaskExecutors included.
    bytesIn: value('etcd_network_client_grpc_received_bytes_total'),
  };
}

/** Leadership losses and TaskExecutor losses the Master has logged so far (its warnings). */
function masterTroubles(cluster: HaCluster): { leadershipLosses: number; taskExecutorsLost: number } {
  const log = readFileSync(path.join(cluster.logsDir, 'master-1.log'), 'utf8');
  const count = (msg: string) => log.split(`"msg":"${msg}"`).length - 1;
  return { leadershipLosses: count('leadership revoked'), taskExecutorsLost: count('TaskExecutor lost') };
}

async function startHosts(cluster: HaCluster, count: number, perHost: number, phase: string): Promise<Proc[]> {
  const hosts = Math.ceil(count / perHost);
  return Promise.all(
    Array.from({ length: hosts }, (_, h) => {
      const n = Math.min(perHost, count - h * perHost);
      const name = `te-host-${phase}-${h}`;
      // At the lowest CPU priority: on a real cluster TaskExecutors run on other machines than
      // the Master and etcd, so here they get only the CPU those two leave.
      return launch('bench/support/taskexecutor-host.js', {
        command: 'nice',
        args: ['-n', '19', process.execPath, path.join(distRoot, 'bench', 'support', 'taskexecutor-host.js'), String(n), `te-${phase}-${h}`],
        env: { ...cluster.env, FLINKISH_SLOTS: '1', FLINKISH_METRICS_PORT: '-1', FLINKISH_LOG_LEVEL: 'warn' },
        name,
        logFile: path.join(cluster.logsDir, `${name}.log`),
        readyTimeoutMs: 240_000,
      });
    }),
  );
}

async function runPhase(cluster: HaCluster, client: ClusterClient, masterPid: number, n: number, perHost: number, opts: { windowMs: number; checkpoints: number }): Promise<Phase> {
  const troubles0 = masterTroubles(cluster);
  const t0 = Date.now();
  const hosts = await startHosts(cluster, n, perHost, String(n));
  await waitFor(`${n} TaskExecutors registered`, async () => (await client.overview()).taskExecutors.length === n, { timeoutMs: 240_000, intervalMs: 50 });
  const registerMs = Date.now() - t0;
  console.error(`scale: ${n} TaskExecutors registered in ${registerMs} ms`);
  // Let the start-up settle (connections, first heartbeats), then measure heartbeats alone.
  await waitFor('every slot free and registered', async () => (await client.overview()).slotsFree === n, { timeoutMs: 30_000 });
  // The lower of two windows: a GC or JIT burst left over from the registrations is not heartbeat work.
  const busyRatio = Math.min(await busyShare(masterPid, opts.windowMs / 2), await busyShare(masterPid, opts.windowMs / 2));

  const deployStart = Date.now();
  const jobId = await client.submitFile(path.join(distRoot, 'bench', 'jobs', 'scale-light.js'), {
    parallelism: n,
    args: { recordsPerSecond: 50, checkpointMs: CHECKPOINT_MS },
  });
  await waitFor(`${n} subtasks running`, async () => {
    const d = await client.status(jobId);
    return d.subtasks.length === n && d.subtasks.every((s) => s.state === 'running');
  }, { timeoutMs: 240_000, intervalMs: 50 });
  const deployMs = Date.now() - deployStart;
  console.error(`scale: job at parallelism ${n} running after ${deployMs} ms`);

  const restartsWhenRunning = (await client.status(jobId)).restarts;
  console.error(`scale: job at parallelism ${n}: ${restartsWhenRunning} restarts before it ran`);
  const completed = async () => (await client.status(jobId)).checkpoints.filter((c) => c.status === 'completed');
  await waitFor('a first completed checkpoint', async () => (await completed()).length >= 1, { timeoutMs: 120_000, intervalMs: 100 });
  const c0 = (await completed()).length;
  const e0 = await etcdCounters(cluster);
  const cpu0 = mainThreadCpuSeconds(masterPid);
  const w0 = Date.now();
  const done = await waitFor(`${opts.checkpoints} more completed checkpoints`, async () => {
    const c = await completed();
    return c.length >= c0 + opts.checkpoints ? c : undefined;
  }, { timeoutMs: 180_000, intervalMs: 100 });
  const e1 = await etcdCounters(cluster);
  const cpuSeconds = mainThreadCpuSeconds(masterPid) - cpu0;
  const windowSeconds = (Date.now() - w0) / 1000;
  const inWindow = done.length - c0;
  console.error(`scale: p = ${n} checkpoint durations in order: ${done.map((c) => c.durationMs).join(', ')} ms`);
  const durations = done.map((c) => c.durationMs!).sort((a, b) => a - b);
  // The Master's main-thread CPU in the window, less its heartbeat share, per checkpoint (it
  // includes the status polls of this benchmark: an upper bound).
  const masterCpuMsPerCheckpoint = ((cpuSeconds - busyRatio * windowSeconds) * 1000) / inWindow;

  const restarts = (await client.status(jobId)).restarts;
  await client.cancel(jobId);
  await client.waitForResult(jobId, { pollMs: 100 });
  const troubles1 = masterTroubles(cluster);
  await Promise.all(hosts.map((h) => h.stop(30_000)));
  await waitFor('the TaskExecutors gone', async () => (await client.overview()).taskExecutors.length === 0, { timeoutMs: 60_000 });
  return {
    taskExecutors: n,
    hosts: hosts.length,
    registerMs,
    busyRatio,
    heartbeatsPerSecond: (n * 1000) / HEARTBEAT_INTERVAL_MS,
    deployMs,
    checkpointMsP50: percentile(durations, 50),
    checkpointMsMax: durations[durations.length - 1]!,
    checkpoints: durations.length,
    etcdWriteTxnsPerCheckpoint: (e1.revision - e0.revision) / inWindow,
    etcdKeysWrittenPerCheckpoint: (e1.keys - e0.keys) / inWindow,
    etcdBytesInPerCheckpoint: (e1.bytesIn - e0.bytesIn) / inWindow,
    masterCpuMsPerCheckpoint,
    masterBusyRunning: cpuSeconds / windowSeconds,
    restarts,
    leadershipLosses: troubles1.leadershipLosses - troubles0.leadershipLosses,
    taskExecutorsLost: troubles1.taskExecutorsLost - troubles0.taskExecutorsLost,
  };
}

export async function run(quick: boolean): Promise<void> {
  const full = quick ? 64 : 256;
  const base = 16;
  const perHost = 32;
  const opts = { windowMs: quick ? 2000 : 10_000, checkpoints: quick ? 3 : 10 };
  try {
    const cluster = await startHaCluster({
      masters: 1,
      taskExecutors: 0,
      slots: 1,
      env: {
        FLINKISH_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_INTERVAL_MS),
        FLINKISH_HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS),
        FLINKISH_SLOT_MEMORY_MB: '64',
      },
    });
    try {
      const client = await cluster.client();
      const masterPid = cluster.masters[0]!.pid;
      await waitFor('the Master to lead', () => cluster.leader(client), { timeoutMs: 20_000 });
      const small = await runPhase(cluster, client, masterPid, base, perHost, opts);
      // Idle share measured once the Master is warm (its first job has run), with no TaskExecutor left.
      const idle = Math.min(await busyShare(masterPid, opts.windowMs / 2), await busyShare(masterPid, opts.windowMs / 2));
      const large = await runPhase(cluster, client, masterPid, full, perHost, opts);
      const heartbeatShare = (p: Phase) => Math.max(0, p.busyRatio - idle);
      // Per heartbeat, from the difference between the two phases: the idle share and any fixed cost cancel.
      const perHeartbeatMs = (Math.max(0, large.busyRatio - small.busyRatio) * 1000) / (large.heartbeatsPerSecond - small.heartbeatsPerSecond);
      const f = `_${full}`;
      const b = `_${base}`;
      writeResult({
        name: 'scale',
        quick,
        metrics: {
          [`register${f}_ms`]: large.registerMs,
          [`deploy_p${full}_ms`]: large.deployMs,
          [`checkpoint_p${full}_ms`]: large.checkpointMsP50,
          [`checkpoint_p${full}_ms_max`]: large.checkpointMsMax,
          rm_busy_ratio: round(heartbeatShare(large), 4),
          rm_busy_ratio_raw: round(large.busyRatio, 4),
          rm_cpu_ms_per_heartbeat: round(perHeartbeatMs, 4),
          etcd_writes_per_checkpoint: round(large.etcdWriteTxnsPerCheckpoint, 2),
          etcd_keys_written_per_checkpoint: round(large.etcdKeysWrittenPerCheckpoint, 2),
          etcd_bytes_in_per_checkpoint: Math.round(large.etcdBytesInPerCheckpoint),
          master_cpu_ms_per_checkpoint: round(large.masterCpuMsPerCheckpoint, 1),
          master_busy_ratio_job_running: round(large.masterBusyRunning, 4),
          task_executors: full,
          processes: large.hosts,
          job_restarts: large.restarts,
          leadership_losses: large.leadershipLosses,
          task_executors_lost: large.taskExecutorsLost,
          checkpoints: large.checkpoints,
        },
        baselines: {
          [`register${b}_ms`]: small.registerMs,
          [`deploy_p${base}_ms`]: small.deployMs,
          [`checkpoint_p${base}_ms`]: small.checkpointMsP50,
          [`rm_busy_ratio${b}`]: round(heartbeatShare(small), 4),
          master_idle_busy_ratio: round(idle, 4),
          [`etcd_writes_per_checkpoint${b}`]: round(small.etcdWriteTxnsPerCheckpoint, 2),
          [`master_cpu_ms_per_checkpoint${b}`]: round(small.masterCpuMsPerCheckpoint, 1),
          [`etcd_bytes_in_per_checkpoint${b}`]: Math.round(small.etcdBytesInPerCheckpoint),
          [`master_busy_ratio_job_running${b}`]: round(small.masterBusyRunning, 4),
          [`leadership_losses${b}`]: small.leadershipLosses,
          [`job_restarts${b}`]: small.restarts,
        },
        ratios: {
          task_executors: full / base,
          register: round(large.registerMs / small.registerMs),
          deploy: round(large.deployMs / small.deployMs),
          checkpoint: round(large.checkpointMsP50 / small.checkpointMsP50),
          // Of the raw shares: the baseline's heartbeat share alone is within the idle share's noise.
          rm_busy_raw: round(large.busyRatio / small.busyRatio),
          etcd_writes_per_checkpoint: round(large.etcdWriteTxnsPerCheckpoint / small.etcdWriteTxnsPerCheckpoint),
          master_cpu_per_checkpoint: round(large.masterCpuMsPerCheckpoint / small.masterCpuMsPerCheckpoint),
        },
        notes: [
          `${quick ? `quick: ${full} TaskExecutors, not 256` : '256 TaskExecutors'} with one slot each, ${perHost} per process (${large.hosts} processes), each its own actor system, task runtime and etcd leader watch; baseline ${base} in the same run`,
          `heartbeats every ${HEARTBEAT_INTERVAL_MS} ms (timeout ${HEARTBEAT_TIMEOUT_MS} ms); rm_busy_ratio = CPU share of the Master's main thread while the TaskExecutors only heartbeat, minus its idle share (${round(idle, 4)}) with none; raw = before the subtraction (each the lower of two windows); rm_cpu_ms_per_heartbeat = (raw share at ${full} − raw share at ${base}) / the heartbeats per second added`,
          `job: one chain generator→map→filter→print at parallelism ${full} (${full} tasks, ${full} worker threads of 64 MB heap limit), 50 records/s per source subtask, checkpoint interval ${CHECKPOINT_MS} ms, state = source offsets`,
          `TaskExecutor processes run at nice 19 (the Master and etcd first, as on separate machines); lease TTL 3 s; leadership losses and TaskExecutors lost (re-registrations, heartbeat timeouts) are counted from the Master's warnings`,
          "register includes starting the processes; deploy includes the job build; etcd writes = write transactions (revision delta) per completed checkpoint, keys = puts + deletes, bytes in = all gRPC bytes etcd received in the window (keepalives included) per checkpoint; master cpu per checkpoint = the Master main thread’s CPU while checkpointing less its heartbeat share, per checkpoint: it includes the subtasks’ 1 s metrics reports and this benchmark’s status polls (an upper bound)",
        ],
      });
    } finally {
      await cluster.stop();
    }
  } finally {
    await killAll();
  }
}
