/**
 * Checkpointing: the throughput of a keyed job with 1-second checkpoints against the same job
 * without (same cluster, same run); the time to complete a checkpoint of a large keyed state;
 * and the time from kill -9 of a TaskExecutor to the job running again from its checkpoint
 * (a spare TaskExecutor takes over).
 */
import path from 'node:path';
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

export async function run(quick: boolean): Promise<void> {
  const records = quick ? 2_000_000 : 10_000_000;
  const stateBytes = (quick ? 20 : 100) * 1024 * 1024;
  try {
    const cluster = await startHaCluster({ masters: 1, taskExecutors: 3, slots: 2, env: { FLINKISH_SLOT_MEMORY_MB: '1024' } });
    try {
      const client = await cluster.client();
      await waitFor('6 slots', async () => (await client.overview()).slotsTotal === 6, { timeoutMs: 20_000 });
      await throughput(client, records / 4, 0); // warm-up
      // Interleaved, best of two each: the machine is shared and noisy.
      const without = Math.max(await throughput(client, records, 0), await throughput(client, records, 0));
      const withCheckpoints = Math.max(await throughput(client, records, 1000), await throughput(client, records, 1000));
      const big = await bigCheckpoint(client, stateBytes);
      const failoverMs = await taskExecutorFailover(cluster, client);
      writeResult({
        name: 'checkpoint',
        quick,
        metrics: {
          records_per_s_with_checkpoints: Math.round(withCheckpoints),
          [quick ? 'checkpoint_ms_20mb' : 'checkpoint_ms_100mb']: big.ms,
          checkpoint_bytes: big.bytes,
          te_failover_ms: failoverMs,
        },
        baselines: { records_per_s_without_checkpoints: Math.round(without) },
        ratios: { throughput_with_vs_without_checkpoints: round(withCheckpoints / without) },
        notes: [
          quick ? 'quick: the large checkpoint holds 20 MB of keyed state, not 100 MB' : 'the large checkpoint holds 100 MB of keyed state',
          'throughput jobs run at parallelism 2 on a local HA cluster; rates include deployment',
        ],
      });
    } finally {
      await cluster.stop();
    }
  } finally {
    await killAll();
  }
}
