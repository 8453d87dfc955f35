/**
 * Failover: kill -9 the leading Master of a local HA cluster running a checkpointed job, and
 * measure until another Master leads and until the job runs again; against a bare etcd
 * election with the same lease TTL in the same run (two contender processes, the leader killed),
 * which is the floor any Master failover sits on.
 */
import path from 'node:path';
import { startEtcdCluster } from '../lib/ha/etcd-server.js';
import { etcdCredentialEnv } from '../lib/ha/etcd-auth.js';
import { distRoot, killAll, launch, type Proc } from '../scripts/support/launcher.js';
import { startHaCluster } from '../scripts/support/local-ha.js';
import { waitFor } from '../scripts/support/wait.js';
import { percentile, round, writeResult } from './support/report.js';

const TTL_SECONDS = 3;

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

export async function run(quick: boolean): Promise<void> {
  const rounds = quick ? 2 : 5;
  try {
    const bare = await bareElectionFailovers(rounds);
    const cluster = await startHaCluster({ masters: 2, taskExecutors: 2, slots: 2, env: { FLINKISH_LEASE_TTL_SECONDS: String(TTL_SECONDS) } });
    const newLeader: number[] = [];
    const running: number[] = [];
    try {
      const client = await cluster.client();
      const records = 1_000_000_000; // runs until cancelled
      const jobId = await client.submitFile(path.join(distRoot, 'scripts', 'jobs', 'keyed-count.js'), {
        args: { records, keys: 16, output: path.join(cluster.workDir, 'out'), recordsPerSecond: 2000, checkpointMs: 200 },
      });
      for (let i = 0; i < rounds; i++) {
        await waitFor('the job to run with a checkpoint', async () => {
          const d = await client.status(jobId);
          return d.subtasks.length > 0 && d.subtasks.every((s) => s.state === 'running') && d.checkpoints.some((c) => c.status === 'completed');
        }, { timeoutMs: 60_000 });
        const leader = await waitFor('the leader', () => cluster.leader(client), { timeoutMs: 20_000 });
        const killedAt = Date.now();
        leader.kill('SIGKILL');
        await waitFor('a new leader', () => {
          const m = cluster.leader(client);
          return m && m !== leader ? m : undefined;
        }, { timeoutMs: 30_000, intervalMs: 5 });
        newLeader.push(Date.now() - killedAt);
        await waitFor('the job to run again', async () => {
          const d = await client.status(jobId);
          return d.restoredFrom !== null && d.subtasks.every((s) => s.state === 'running');
        }, { timeoutMs: 60_000, intervalMs: 10 });
        running.push(Date.now() - killedAt);
        await cluster.startMaster();
      }
      await client.cancel(jobId);
    } finally {
      await cluster.stop();
    }
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    const p50 = (xs: number[]) => percentile(sorted(xs), 50);
    writeResult({
      name: 'failover',
      quick,
      metrics: {
        leader_kill_to_new_leader_ms_p50: p50(newLeader),
        leader_kill_to_new_leader_ms_max: Math.max(...newLeader),
        leader_kill_to_job_running_ms_p50: p50(running),
        leader_kill_to_job_running_ms_max: Math.max(...running),
        faults: rounds,
        lease_ttl_s: TTL_SECONDS,
      },
      baselines: { etcd_election_failover_ms_p50: p50(bare) },
      ratios: { new_leader_vs_bare_election: round(p50(newLeader) / p50(bare)) },
      notes: [`${rounds} leader kills; bare election samples: ${bare.join(', ')} ms; job running again: ${running.join(', ')} ms`],
    });
  } finally {
    await killAll();
  }
}
