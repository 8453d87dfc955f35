/**
 * An HA cluster in child processes of this one, for the demo, the drill and the tests: its own
 * etcd (1 or 3 members), M Masters and N TaskExecutors on loopback, each started through the
 * CLI and stopped by PID. Unlike `cluster start`, everything ends with this process.
 * Every Master and TaskExecutor logs to `<workDir>/logs/<name>.log`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEtcdCluster, type EtcdCluster, type EtcdClusterAccess } from '../../lib/ha/etcd-server.js';
import { etcdCredentialEnv } from '../../lib/ha/etcd-auth.js';
import { ClusterClient } from '../../lib/client/cluster-client.js';
import { createLogger } from '../../lib/logging.js';
import { launch, type LaunchOptions, type Proc } from './launcher.js';

export const CLI = 'scripts/cli.js';

export interface HaClusterOptions {
  etcdMembers?: 1 | 3;
  masters?: number;
  taskExecutors?: number;
  slots?: number;
  /** Extra FLINKISH_* settings for every process. */
  env?: Record<string, string>;
  workDir?: string;
  /** Further arguments of the n-th `flinkish master` (from 0), e.g. `--host`. */
  masterArgs?: (index: number) => string[];
  /** Further arguments of the n-th `flinkish taskexecutor` (from 0). */
  taskExecutorArgs?: (index: number) => string[];
}

export interface HaCluster {
  etcd: EtcdCluster;
  masters: Proc[];
  taskExecutors: Proc[];
  env: Record<string, string>;
  workDir: string;
  /** `<workDir>/logs`: one file per process. */
  logsDir: string;
  client(): Promise<ClusterClient>;
  /** The Master process that leads now, per etcd (via a client's view). */
  leader(client: ClusterClient): Proc | undefined;
  startMaster(): Promise<Proc>;
  startTaskExecutor(): Promise<Proc>;
  /**
   * Stop every process; the work directory is removed unless `keepWorkDir` (then the etcd
   * members' last lines are saved beside the other logs too).
   */
  stop(options?: { keepWorkDir?: boolean }): Promise<void>;
}

/** Masters and TaskExecutors of an HA cluster whose etcd runs elsewhere (see {@link startHaProcesses}). */
export interface HaProcessesOptions extends Omit<HaClusterOptions, 'etcdMembers' | 'workDir'> {
  /** The etcd the processes use (endpoints and credentials); not started or stopped here. */
  etcd: EtcdClusterAccess;
  workDir: string;
  /** How the n-th process of a role is started (default: the launcher, on this host); e.g. inside a namespace host. */
  launchOn?: (role: 'master' | 'taskexecutor', index: number) => (script: string, options: LaunchOptions) => Promise<Proc>;
}

export type HaProcesses = Pick<HaCluster, 'masters' | 'taskExecutors' | 'env' | 'workDir' | 'logsDir' | 'startMaster' | 'startTaskExecutor'> & {
  /** Stop every process (by PID) and wait until their logs are written. */
  stop(): Promise<void>;
};

/**
 * Start M Masters and N TaskExecutors through the CLI against a running etcd, with the
 * cluster's secrets in their environment: the part of {@link startHaCluster} that does not
 * depend on where etcd runs.
 */
export async function startHaProcesses(options: HaProcessesOptions): Promise<HaProcesses> {
  const { workDir } = options;
  const logsDir = path.join(workDir, 'logs');
  const { endpoints, ...credentials } = options.etcd;
  const env: Record<string, string> = {
    FLINKISH_SECRET: `ha-secret-${process.pid}-0123456789`,
    FLINKISH_CLIENT_SECRET: `ha-client-secret-${process.pid}-0123456789`,
    FLINKISH_CLUSTER_ID: `ha-${process.pid}-${Date.now()}`,
    FLINKISH_WORK_DIR: workDir,
    FLINKISH_ETCD_ENDPOINTS: endpoints.join(','),
    ...etcdCredentialEnv(credentials),
    FLINKISH_HEARTBEAT_INTERVAL_MS: '300',
    FLINKISH_HEARTBEAT_TIMEOUT_MS: '2000',
    FLINKISH_SLOT_MEMORY_MB: '128',
    ...options.env,
  };
  const masters: Proc[] = [];
  const taskExecutors: Proc[] = [];
  let teCount = 0;
  let masterCount = 0;
  const launcher = (role: 'master' | 'taskexecutor', index: number) => options.launchOn?.(role, index) ?? launch;
  const startMaster = async () => {
    const index = masterCount++;
    const extra = options.masterArgs?.(index) ?? [];
    const name = `master-${index + 1}`;
    const proc = await launcher('master', index)(CLI, { args: ['master', '--port', '0', '--work-dir', workDir, ...extra], env, name, logFile: path.join(logsDir, `${name}.log`) });
    masters.push(proc);
    return proc;
  };
  const startTaskExecutor = async () => {
    const index = teCount++;
    const extra = options.taskExecutorArgs?.(index) ?? [];
    const id = `te-${index + 1}`;
    const name = `taskexecutor-${id}`;
    const proc = await launcher('taskexecutor', index)(CLI, {
      args: ['taskexecutor', '--slots', String(options.slots ?? 2), '--work-dir', workDir, '--id', id, ...extra],
      env,
      name,
      logFile: path.join(logsDir, `${name}.log`),
    });
    taskExecutors.push(proc);
    return proc;
  };
  const stop = async () => {
    await Promise.all([...taskExecutors, ...masters].map((p) => p.stop()));
    await Promise.all([...taskExecutors, ...masters].map((p) => p.logWritten()));
  };
  try {
    for (let i = 0; i < (options.masters ?? 2); i++) await startMaster();
    await Promise.all(Array.from({ length: options.taskExecutors ?? 2 }, () => startTaskExecutor()));
  } catch (err) {
    await stop();
    throw err;
  }
  return { masters, taskExecutors, env, workDir, logsDir, startMaster, startTaskExecutor, stop };
}

export async function startHaCluster(options: HaClusterOptions = {}): Promise<HaCluster> {
  const ownsDir = options.workDir === undefined;
  const workDir = options.workDir ?? mkdtempSync(path.join(tmpdir(), 'flinkish-ha-'));
  const etcd = await startEtcdCluster({ members: options.etcdMembers ?? 1, dataDir: path.join(workDir, 'etcd') });
  let processes: HaProcesses;
  try {
    processes = await startHaProcesses({ ...options, etcd: etcd.clientOptions, workDir });
  } catch (err) {
    await etcd.stop();
    throw err;
  }
  const { masters, taskExecutors, env, logsDir } = processes;
  const clients: ClusterClient[] = [];
  return {
    etcd,
    masters,
    taskExecutors,
    env,
    workDir,
    logsDir,
    startMaster: processes.startMaster,
    startTaskExecutor: processes.startTaskExecutor,
    async client() {
      const client = await ClusterClient.connect({
        etcdEndpoints: etcd.endpoints,
        etcdCredentials: etcd.credentials,
        clusterId: env['FLINKISH_CLUSTER_ID']!,
        clientSecret: env['FLINKISH_CLIENT_SECRET']!,
        logger: createLogger({ name: 'client', level: process.env['LOG_LEVEL'] ?? 'warn' }),
      });
      clients.push(client);
      return client;
    },
    leader(client) {
      const address = client.masterAddress;
      return masters.find((m) => m.running && m.ready['node'] === address);
    },
    async stop(stopOptions = {}) {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await processes.stop();
      if (stopOptions.keepWorkDir) {
        mkdirSync(logsDir, { recursive: true });
        for (const member of etcd.members) writeFileSync(path.join(logsDir, `${member.name}.log`), member.tail(500) + '\n');
      }
      await etcd.stop();
      if (ownsDir && !stopOptions.keepWorkDir) rmSync(workDir, { recursive: true, force: true });
    },
  };
}
