/**
 * A standalone cluster (no etcd) in child processes of this one, for tests and benchmarks: a
 * Master and TaskExecutors started through the CLI on loopback with ephemeral ports and a temp
 * work dir, stopped by PID. See local-ha.ts for the HA variant.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ClusterClient } from '../../lib/client/cluster-client.js';
import { distRoot, launch, type Proc } from './launcher.js';
import { CLI } from './local-ha.js';

export { CLI };
export const jobPath = (name: string) => path.join(distRoot, 'scripts', 'jobs', `${name}.js`);

export interface TestCluster {
  master: Proc;
  masterAddress: string;
  taskExecutors: Proc[];
  env: Record<string, string>;
  workDir: string;
  client(): Promise<ClusterClient>;
  addTaskExecutor(slots?: number): Promise<Proc>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  taskExecutors?: number;
  slots?: number;
  slotRequestTimeoutMs?: number;
  slotMemoryMb?: number;
  env?: Record<string, string>;
  /** Further arguments of `flinkish master` (e.g. `--host`, `--advertised-host`). */
  masterArgs?: string[];
  /** Further arguments of the n-th `flinkish taskexecutor` (from 0). */
  taskExecutorArgs?: (index: number) => string[];
}

export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const workDir = mkdtempSync(path.join(tmpdir(), 'flinkish-cluster-'));
  const env: Record<string, string> = {
    FLINKISH_SECRET: 'integration-test-secret-0123',
    FLINKISH_CLIENT_SECRET: 'integration-test-client-secret-0123',
    FLINKISH_CLUSTER_ID: `test-${process.pid}`,
    FLINKISH_WORK_DIR: workDir,
    FLINKISH_SLOT_REQUEST_TIMEOUT_MS: String(options.slotRequestTimeoutMs ?? 20_000),
    FLINKISH_HEARTBEAT_INTERVAL_MS: '300',
    FLINKISH_HEARTBEAT_TIMEOUT_MS: '2000',
    FLINKISH_SLOT_MEMORY_MB: String(options.slotMemoryMb ?? 128),
    ...options.env,
  };
  const master = await launch(CLI, { args: ['master', '--port', '0', '--work-dir', workDir, ...(options.masterArgs ?? [])], env, name: 'master' });
  const masterAddress = String(master.ready['node']);
  const clients: ClusterClient[] = [];
  let teCount = 0;
  const addTaskExecutor = (slots = options.slots ?? 2) =>
    launch(CLI, {
      args: ['--master', masterAddress, 'taskexecutor', '--slots', String(slots), '--work-dir', workDir, ...(options.taskExecutorArgs?.(teCount) ?? []), '--id', `te-${++teCount}`],
      env,
      name: `taskexecutor-${teCount}`,
    });
  const taskExecutors = await Promise.all(Array.from({ length: options.taskExecutors ?? 2 }, () => addTaskExecutor()));
  return {
    master,
    masterAddress,
    taskExecutors,
    env,
    workDir,
    addTaskExecutor,
    async client() {
      const client = await ClusterClient.connect({ masterAddress, clusterId: env['FLINKISH_CLUSTER_ID']!, clientSecret: env['FLINKISH_CLIENT_SECRET']! });
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.close()));
      await Promise.all([...taskExecutors, master].map((p) => p.stop()));
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** Expected word counts of scripts/jobs/wordcount.ts for the given args. */
export function expectedWordCounts(lines: number, words = 8, vocabulary = 100): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < lines; i++) {
    for (let j = 0; j < words; j++) {
      const w = `w${(i * 31 + j * 17) % vocabulary}`;
      counts.set(w, (counts.get(w) ?? 0) + 1);
    }
  }
  return counts;
}
