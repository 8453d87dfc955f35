/**
 * Checkpointing. In process, a subtask's TaskCheckpointer over a keyed backend (the code a task
 * runs, without the cluster around it): the pause of a snapshot of a million keys (the
 * synchronous phase: the copy-on-write cut, against encoding the whole state as it used to be);
 * the time to complete a checkpoint of 100 MB of keyed state, full and incremental with 1 % of
 * the keys changed; the update rate of that state with and without checkpoints every 500 ms.
 * On a cluster: the throughput of a keyed job with 1-second checkpoints against the same job
 * without (same cluster, same run); the time to complete a checkpoint of a large keyed state;
 * the end-to-end time of checkpoints of a tiny keyed state under a paced source, and with it
 * the latency of exactly-once output; and the time from kill -9 of a TaskExecutor to the job
 * running again from its checkpoint (a spare TaskExecutor takes over).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { keyGroupRangeFor } from '../lib/dataflow/keygroups.js';
import { HeapKeyedStateBackend } from '../lib/dataflow/state.js';
import type { StateHandle, TaskDeploymentDescriptor } from '../lib/task/descriptor.js';
import { encodeSnapshot, SNAPSHOT_VERSION } from '../lib/task/snapshot-store.js';
import { TaskCheckpointer } from '../lib/task/task-checkpointer.js';
import type { FromWorker } from '../lib/task/worker-protocol.js';
import { distRoot, killAll } from '../scripts/support/launcher.js';
import { startHaCluster, type HaCluster } from '../scripts/support/local-ha.js';
import { waitFor } from '../scripts/support/wait.js';
import type { ClusterClient } from '../lib/client/cluster-client.js';
import { round, writeResult } from './support/report.js';

const benchJob = (name: string) => path.join(distRoot, 'bench', 'jobs', `${name}.js`);

async function throughput(client: ClusterClient, records: number, checkpointMs: number): Promise<number> {
  const start = Date.now();
  const jobId = await client.submitFile(benchJob('keyed-throughput'), { parallelism: 2, args: { records, keys: 10_000, checkpointMs } });
  const result = await client.waitForResult(jobId, { pollMs: 20 });
  if (result.state !== 'finished') throw new Error(`throughput job ${result.state}: ${result.failure?.message}`);
  return records / ((Date.now() - start) / 1000);
}

async function bigCheckpoint(client: ClusterClient, stateBytes: number): Promise<{ ms: number; bytes: number }> {
  const valueBytes = 1024;
  const jobId = await client.submitFile(benchJob('big-state'), { parallelism: 2, args: { keys: Math.round(stateBytes / valueBytes), valueBytes } });
  const result = await client.waitForResult(jobId, { pollMs: 50 });
  if (result.state !== 'finished') throw new Error(`big-state job ${result.state}: ${result.failure?.message}`);
  const largest = result.details.checkpoints.filter((c) => c.status === 'completed').sort((a, b) => b.bytes - a.bytes)[0];
  if (!largest) throw new Error('the big-state job completed no checkpoint');
  return { ms: largest.durationMs!, bytes: largest.bytes };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Tiny keyed state (1,000 keys) under a source paced at 1,200 records/s into the transactional
 * file sink: the end-to-end duration of its checkpoints (trigger to completion), and the time
 * from a record entering the sink to its file being committed (the file's ctime is set by the
 * commit's rename), which is when exactly-once output becomes visible.
 */
export async function smallStateLatency(client: ClusterClient, workDir: string, seconds: number): Promise<{ checkpoint: number[]; commit: number[] }> {
  const output = path.join(workDir, `small-state-${Date.now()}`);
  const perSecond = 1200;
  const jobId = await client.submitFile(benchJob('small-state'), {
    parallelism: 2,
    args: { records: perSecond * seconds, keys: 1000, recordsPerSecond: perSecond, checkpointMs: 100, output },
  });
  const result = await client.waitForResult(jobId, { pollMs: 50 });
  if (result.state !== 'finished') throw new Error(`small-state job ${result.state}: ${result.failure?.message}`);
  const checkpoint = result.details.checkpoints.filter((c) => c.status === 'completed').map((c) => c.durationMs!).sort((a, b) => a - b);
  const commit: number[] = [];
  for (const name of readdirSync(output).filter((f) => f.startsWith('part-'))) {
    const file = path.join(output, name);
    const committedAt = statSync(file).ctimeMs;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.length > 0) commit.push(committedAt - Number(line.slice(line.lastIndexOf(',') + 1)));
    }
  }
  commit.sort((a, b) => a - b);
  return { checkpoint, commit };
}

async function taskExecutorFailover(cluster: HaCluster, client: ClusterClient): Promise<number> {
  const jobId = await client.submitFile(path.join(distRoot, 'scripts', 'jobs', 'keyed-count.js'), {
    parallelism: 2,
    args: { records: 1_000_000_000, keys: 16, output: path.join(cluster.workDir, 'failover-out'), recordsPerSecond: 2000, checkpointMs: 200 },
  });
  const details = await waitFor('the job to run with a checkpoint', async () => {
    const d = await client.status(jobId);
    return d.subtasks.every((s) => s.state === 'running') && d.checkpoints.some((c) => c.status === 'completed') ? d : undefined;
  }, { timeoutMs: 60_000 });
  const teId = details.subtasks[0]!.taskExecutorId!;
  const victim = cluster.taskExecutors.find((p) => p.running && p.name === `taskexecutor-${teId}`)!;
  const killedAt = Date.now();
  victim.kill('SIGKILL');
  await waitFor('the job to run again', async () => {
    const d = await client.status(jobId);
    return d.attempt > details.attempt && d.subtasks.every((s) => s.state === 'running');
  }, { timeoutMs: 60_000, intervalMs: 10 });
  const ms = Date.now() - killedAt;
  await client.cancel(jobId);
  await client.waitForResult(jobId);
  return ms;
}

/** One subtask's checkpointer over `backend`, as a StreamTask wires it (no sinks, no outputs). */
class LocalCheckpoints {
  readonly checkpointer: TaskCheckpointer;
  private readonly acks = new Map<number, (handle: StateHandle) => void>();
  private next = 1;

  constructor(backend: HeapKeyedStateBackend, private readonly dir: string, incremental = true) {
    const tdd = { executionId: 'bench/1/v/0', vertexId: 'v', subtaskIndex: 0, parallelism: 1, ...(incremental ? {} : { incrementalCheckpoints: false }) } as TaskDeploymentDescriptor;
    this.checkpointer = new TaskCheckpointer(tdd, {
      chain: { keyedBackends: () => new Map([['op', backend]]), sourcePositions: () => undefined, operatorStateSnapshot: () => undefined },
      sinks: { snapshot: () => ({}) },
      partitions: [],
      post: (msg: FromWorker) => {
        if (msg.t === 'cp.ack') this.acks.get(msg.checkpointId)?.(msg.handle);
        if (msg.t === 'cp.declined') throw new Error(`checkpoint ${msg.checkpointId} declined: ${msg.error.message}`);
      },
    });
  }

  /** Starts a checkpoint: the pause (ms), and its completion (the ack, then the coordinator's notice). */
  start(): { pauseMs: number; done: Promise<{ ms: number; bytes: number }> } {
    const id = this.next++;
    const started = performance.now();
    const done = new Promise<{ ms: number; bytes: number }>((resolve) =>
      this.acks.set(id, (handle) => {
        this.checkpointer.completed(id);
        resolve({ ms: performance.now() - started, bytes: handle.bytes });
      }),
    );
    this.checkpointer.checkpoint({ checkpointId: id, savepoint: false, dir: path.join(this.dir, `chk-${id}`) });
    return { pauseMs: performance.now() - started, done };
  }
}

function backendOf(keys: number, value: (i: number) => unknown): HeapKeyedStateBackend {
  const backend = new HeapKeyedStateBackend({ maxParallelism: 128, keyGroupRange: keyGroupRangeFor(128, 1, 0) });
  const state = backend.getValueState<unknown>('v');
  for (let i = 0; i < keys; i++) {
    backend.setCurrentKey(i);
    state.update(value(i));
  }
  return backend;
}

/**
 * The next state of a 31-bit linear congruential generator (in 32-bit integer arithmetic: the
 * plain `seed * 1103515245` loses its low bits past 2^53, and the sequence fell into a cycle
 * that touched 176 of 1,000 keys), and a key below `n` from its high bits.
 */
const nextSeed = (seed: number) => (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
const keyOf = (seed: number, n: number) => (seed >>> 4) % n;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Updates random keys among the first `hot` of `backend` for `ms`, yielding like a task between
 * batches of 1,000, with a checkpoint every `intervalMs` if `checkpoints`; updates per second.
 * A checkpoint still running at `ms` is waited for while updating (its work counts in its window).
 */
async function updateRate(backend: HeapKeyedStateBackend, hot: number, ms: number, checkpoints: LocalCheckpoints | null, intervalMs: number): Promise<Rate> {
  const state = backend.getValueState<unknown>('v');
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let lastCheckpoint = started;
  let inFlight: Promise<unknown> | null = null;
  let n = 0;
  let seed = 12345;
  while (performance.now() - started < ms || inFlight !== null) {
    for (let i = 0; i < 1000; i++) {
      seed = nextSeed(seed);
      backend.setCurrentKey(keyOf(seed, hot));
      state.update(`u${n++}`);
    }
    if (checkpoints && inFlight === null && performance.now() - started < ms && performance.now() - lastCheckpoint >= intervalMs) {
      lastCheckpoint = performance.now();
      inFlight = checkpoints.start().done.then(() => (inFlight = null));
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const cpu = process.cpuUsage(cpuBefore);
  return { wall: n / ((performance.now() - started) / 1000), cpu: n / ((cpu.user + cpu.system) / 1e6) };
}

/** Updates (or records) per second of wall-clock time, and per second of the process's CPU time (all its threads) if measured. */
interface Rate {
  readonly wall: number;
  readonly cpu?: number;
}

/**
 * `blocks` times: a window without checkpoints then one with, and one with then one without
 * (back to back: a drift of the machine's load, or garbage a window leaves to the next, weighs
 * on both). A block's ratio is the geometric mean of its two pairs' ratios; the result is the
 * median of the blocks' ratios, with the best rate of each kind.
 */
async function pairedRates(
  blocks: number,
  measure: (withCheckpoints: boolean) => Promise<Rate>,
): Promise<{ ratio: number; cpuRatio: number | undefined; without: number; with: number; ratios: number[]; cpuRatios: number[] }> {
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  let without = 0;
  let withCheckpoints = 0;
  for (let i = 0; i < blocks; i++) {
    const a1 = await measure(false);
    const b1 = await measure(true);
    const b2 = await measure(true);
    const a2 = await measure(false);
    ratios.push(Math.sqrt((b1.wall / a1.wall) * (b2.wall / a2.wall)));
    if (a1.cpu !== undefined) cpuRatios.push(Math.sqrt((b1.cpu! / a1.cpu) * (b2.cpu! / a2.cpu!)));
    without = Math.max(without, a1.wall, a2.wall);
    withCheckpoints = Math.max(withCheckpoints, b1.wall, b2.wall);
  }
  return { ratio: medianOf(ratios), cpuRatio: cpuRatios.length === 0 ? undefined : medianOf(cpuRatios), without, with: withCheckpoints, ratios, cpuRatios };
}

/** The median (of an even count, the mean of the middle two). */
function medianOf(xs: readonly number[]): number {
  const sorted = [...xs].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The in-process part: pause, full and incremental checkpoint times, update rate with and without checkpoints. */
async function localSnapshots(quick: boolean) {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-checkpoint-'));
  try {
    // A million keys: the pause of the cut against encoding all of it at once (the old synchronous phase).
    let backend = backendOf(1_000_000, (i) => i);
    const started = performance.now();
    encodeSnapshot({ version: SNAPSHOT_VERSION, checkpointId: 0, vertexId: 'v', subtaskIndex: 0, parallelism: 1, keyedState: { op: backend.snapshot() }, sinks: {} });
    const encodeAllMs = performance.now() - started;
    const local = new LocalCheckpoints(backend, path.join(dir, 'pause'));
    const pauses: number[] = [];
    const cuts: number[] = [];
    let longestSliceMs = 0;
    for (let i = 0; i < (quick ? 2 : 3); i++) {
      const c = local.start();
      pauses.push(c.pauseMs);
      await c.done;
      cuts.push(local.checkpointer.lastTimings!.syncMs);
      longestSliceMs = Math.max(longestSliceMs, local.checkpointer.lastTimings!.longestSliceMs);
      backend.setCurrentKey(i);
      backend.getValueState<number>('v').update(-i); // a change, so that each is a real (if small) checkpoint
    }
    backend = undefined as unknown as HeapKeyedStateBackend; // its memory goes before the 100 MB state comes
    // 100 MB: 100,000 keys of 1 KB. Full, then incremental with 1 % of the keys changed between checkpoints.
    const keys = 100_000;
    const filler = 'x'.repeat(1000);
    const big = backendOf(keys, (i) => `${filler}${i}`);
    const value = big.getValueState<string>('v');
    const incremental = new LocalCheckpoints(big, path.join(dir, 'incremental'));
    const first = await incremental.start().done;
    const increments: Array<{ ms: number; bytes: number }> = [];
    let seed = 7;
    for (let round = 0; round < (quick ? 2 : 5); round++) {
      for (let i = 0; i < keys / 100; i++) {
        seed = nextSeed(seed);
        big.setCurrentKey(keyOf(seed, keys));
        value.update(`${filler}r${round}`);
      }
      increments.push(await incremental.start().done);
    }
    const fulls = [first];
    const full = new LocalCheckpoints(big, path.join(dir, 'full'), false);
    for (let i = 0; i < (quick ? 0 : 2); i++) fulls.push(await full.start().done);
    rmSync(path.join(dir, 'incremental'), { recursive: true, force: true });
    rmSync(path.join(dir, 'full'), { recursive: true, force: true });
    // Update rate of the 100 MB state, without and with (incremental) checkpoints every 500 ms,
    // interleaved: updates on 1 % of the keys (the incremental scenario) and, in a full run, on all.
    // The checkpoints go on from the incremental ones above (a first, full one is behind them).
    const ms = quick ? 1000 : 2000;
    const rates = await pairedRates(quick ? 1 : 5, (on) => updateRate(big, keys / 100, ms, on ? incremental : null, 500));
    const uniform = quick ? undefined : await pairedRates(3, (on) => updateRate(big, keys, 2000, on ? incremental : null, 500));
    return {
      pauseMs: median(pauses),
      pauses,
      increments: increments.map((c) => c.ms),
      cutMs: median(cuts),
      uniform,
      longestSliceMs,
      encodeAllMs,
      fullMs: median(fulls.map((f) => f.ms)),
      fullBytes: median(fulls.map((f) => f.bytes)),
      incrementalMs: median(increments.map((c) => c.ms)),
      incrementalBytes: median(increments.map((c) => c.bytes)),
      rates,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(quick: boolean): Promise<void> {
  const load = loadavg()[0]!;
  const local = await localSnapshots(quick);
  const records = quick ? 600_000 : 10_000_000; // quick: the whole run within 30 s on a loaded machine
  const stateBytes = (quick ? 20 : 100) * 1024 * 1024;
  try {
    const cluster = await startHaCluster({ masters: 1, taskExecutors: 3, slots: 2, env: { FLINKISH_SLOT_MEMORY_MB: '1024' } });
    try {
      const client = await cluster.client();
      await waitFor('6 slots', async () => (await client.overview()).slotsTotal === 6, { timeoutMs: 20_000 });
      await throughput(client, records / 4, 0); // warm-up
      // Interleaved, best of two each: the machine is shared and noisy.
      const jobRates = await pairedRates(quick ? 1 : 2, async (on) => ({ wall: await throughput(client, records, on ? 1000 : 0) }));
      const big = await bigCheckpoint(client, stateBytes);
      const small = await smallStateLatency(client, cluster.workDir, quick ? 3 : 10);
      const smallP50 = percentile(small.checkpoint, 50);
      const smallP99 = percentile(small.checkpoint, 99);
      const failoverMs = await taskExecutorFailover(cluster, client);
      writeResult({
        name: 'checkpoint',
        quick,
        metrics: {
          sync_pause_ms_1m_keys: round(local.pauseMs),
          snapshot_cut_ms_1m_keys: round(local.cutMs),
          snapshot_slice_ms_max_1m_keys: round(local.longestSliceMs),
          incremental_checkpoint_ms_100mb_1pct: round(local.incrementalMs),
          incremental_checkpoint_bytes_100mb_1pct: local.incrementalBytes,
          state_updates_per_s_100mb_with_checkpoints: Math.round(local.rates.with),
          records_per_s_with_checkpoints: Math.round(jobRates.with),
          [quick ? 'checkpoint_ms_20mb' : 'checkpoint_ms_100mb']: big.ms,
          checkpoint_bytes: big.bytes,
          checkpoint_small_state_ms_p50: smallP50,
          checkpoint_small_state_ms_p99: smallP99,
          checkpoint_small_state_count: small.checkpoint.length,
          sink_commit_latency_ms_p50: round(percentile(small.commit, 50)),
          sink_commit_latency_ms_p99: round(percentile(small.commit, 99)),
          te_failover_ms: failoverMs,
        },
        baselines: {
          sync_encode_ms_1m_keys: round(local.encodeAllMs),
          full_checkpoint_ms_100mb: round(local.fullMs),
          full_checkpoint_bytes_100mb: local.fullBytes,
          state_updates_per_s_100mb_without_checkpoints: Math.round(local.rates.without),
          records_per_s_without_checkpoints: Math.round(jobRates.without),
        },
        ratios: {
          sync_pause_1m_keys_vs_target_20ms: round(local.pauseMs / 20),
          sync_pause_vs_encode_all: round(local.pauseMs / local.encodeAllMs),
          incremental_vs_full: round(local.incrementalMs / local.fullMs),
          incremental_vs_full_bytes: round(local.incrementalBytes / local.fullBytes),
          throughput_with_vs_without_checkpoints_100mb: round(local.rates.ratio),
          ...(local.uniform === undefined ? {} : { throughput_with_vs_without_checkpoints_100mb_all_keys_updated: round(local.uniform.ratio) }),
          updates_per_cpu_s_with_vs_without_checkpoints_100mb: round(local.rates.cpuRatio!),
          ...(local.uniform === undefined ? {} : { updates_per_cpu_s_with_vs_without_checkpoints_100mb_all_keys_updated: round(local.uniform.cpuRatio!) }),
          throughput_with_vs_without_checkpoints: round(jobRates.ratio),
          checkpoint_small_state_p50_vs_target_100ms: round(smallP50 / 100),
          checkpoint_small_state_p99_vs_target_300ms: round(smallP99 / 300),
        },
        notes: [
          `load average (1 min) at the start: ${load.toFixed(2)} on ${(await import('node:os')).cpus().length} cores, shared with other work: ratios are against same-run baselines`,
          'in process: a TaskCheckpointer over one keyed backend (maxParallelism 128, one subtask), files in a temp dir; sync pause = the checkpoint() call at the barrier (cut + plan + header + the first encoding slice), median of 3 (quick: the later of 2); sync_encode = encoding the whole million-key state at once, what the synchronous phase did before copy-on-write',
          '100 MB = 100,000 keys x 1 KB strings; incremental: 1,000 random keys (1 %) updated between checkpoints, time from barrier to ack (encode + write), median; full: the same state with incremental off',
          `update rates: random keys (a 31-bit LCG in 32-bit arithmetic; until 2026-12-01 its products lost their low bits and the keys cycled over 176 of the 1,000 hot keys, 3,627 of all) updated with short strings in batches of 1,000 with a yield between, checkpoints every 500 ms (a window ends once its last checkpoint completed); the updates hit 1 % of the keys (1,000 hot keys), so that each incremental checkpoint holds what changed; a full run adds updates over all keys (~1.4 MB of changed entries per checkpoint)`,
          `ratios with vs without: per block, a window (or job run) without checkpoints then one with, one with then one without, the geometric mean of the two pairs' ratios; the median over blocks (the best rate of each kind, the measure before, is in the metrics); 1 % of keys: ${quick ? 1 : 5} blocks of ${quick ? 1 : 2} s windows, block ratios ${local.rates.ratios.map((r) => r.toFixed(3)).join(' ')}${local.uniform === undefined ? '' : `; all keys: 3 blocks of 2 s windows, ${local.uniform.ratios.map((r) => r.toFixed(3)).join(' ')}`}; job: ${quick ? 1 : 2} blocks of runs, ${jobRates.ratios.map((r) => r.toFixed(3)).join(' ')}`,
          `updates_per_cpu_s ratios: the same windows, updates per second of the process's CPU time (every thread: GC helpers and file writes count), which a loaded machine's scheduling does not skew; block ratios ${local.rates.cpuRatios.map((r) => r.toFixed(3)).join(' ')}${local.uniform === undefined ? '' : `; all keys ${local.uniform.cpuRatios.map((r) => r.toFixed(3)).join(' ')}`}`,
          quick ? 'quick: the large checkpoint holds 20 MB of keyed state, not 100 MB' : 'the large checkpoint holds 100 MB of keyed state',
          'throughput jobs run at parallelism 2 on a local HA cluster; rates include deployment',
          'small state: 1,000 keys (~2.5 KB) at parallelism 2, source paced at 1,200 records/s, 100 ms checkpoint interval; sink commit latency = commit rename (file ctime) - record entering the sink, so it includes the wait for the next checkpoint (half an interval on average)',
        ],
      });
    } finally {
      await cluster.stop();
    }
  } finally {
    await killAll();
  }
}
