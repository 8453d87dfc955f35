/**
 * An HA cluster on namespace hosts (scripts/support/netns/): three etcd members on three hosts,
 * Masters and TaskExecutors each on a host of its own list, every process binding and
 * advertising its host's 198.18.0.x address, with its work directory on that host's disk (a
 * host kill deletes it). Checkpoints, savepoints and logs go to `workDir`, a directory that every
 * host sees (namespaces share the filesystem). The Masters and TaskExecutors are those of
 * {@link startHaProcesses}; only where they run differs.
 *
 * The calling process (the root namespace) reaches no host address: etcd is started from the
 * `control` host (scripts/support/netns-etcd-members.ts), and clients must run inside a host too,
 * with {@link NetnsHaCluster.env} as their environment (cluster id, client secret, etcd endpoints
 * and credentials).
 *
 * @example
 * ```ts
 * const [control, e1, e2, e3, t1, t2] = net.hosts;
 * const cluster = await startNetnsHaCluster({ control, etcdHosts: [e1, e2, e3], masterHosts: [e1, e2], taskExecutorHosts: [t1, t2] });
 * await net.isolate(cluster.hostOf(cluster.masters[0]!));
 * await cluster.stop();
 * ```
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EtcdClusterAccess } from '../../lib/ha/etcd-server.js';
import type { Proc } from './launcher.js';
import { startHaProcesses, type HaProcesses } from './local-ha.js';
import type { NetnsHost } from './netns/hosts.js';

export interface NetnsHaClusterOptions {
  /** Runs the etcd launcher (and, by convention, the clients): keep it out of partitions. */
  control: NetnsHost;
  /** One etcd member on each. */
  etcdHosts: [NetnsHost, NetnsHost, NetnsHost];
  /** One Master on each. */
  masterHosts: NetnsHost[];
  /** Where the n-th TaskExecutor runs, also those started later by `startTaskExecutor()` (spares). */
  taskExecutorHosts: NetnsHost[];
  /** How many TaskExecutors start now (default: one per host of `taskExecutorHosts`). */
  taskExecutors?: number;
  slots?: number;
  /** Extra FLINKISH_* settings for every Master and TaskExecutor. */
  env?: Record<string, string>;
  /** Shared by every host: checkpoints, savepoints, logs (a temp dir, removed on stop, by default). */
  workDir?: string;
}

export interface NetnsHaCluster extends HaProcesses {
  /** The etcd launcher process on the control host; its members' endpoints and credentials. */
  etcdMembers: Proc;
  etcd: EtcdClusterAccess;
  /** The host a Master or TaskExecutor of this cluster runs on. */
  hostOf(proc: Proc): NetnsHost;
  /** Make sure etcd's own leader is not the member on `host` (see netns-etcd-members.ts); resolves with the leader's URL. */
  moveEtcdLeaderAwayFrom(host: NetnsHost): Promise<string>;
  stop(options?: { keepWorkDir?: boolean }): Promise<void>;
}

export const NETNS_ETCD_MEMBERS = 'scripts/support/netns-etcd-members.js';

export async function startNetnsHaCluster(options: NetnsHaClusterOptions): Promise<NetnsHaCluster> {
  const ownsDir = options.workDir === undefined;
  const workDir = options.workDir ?? mkdtempSync(path.join(tmpdir(), 'flinkish-netns-ha-'));
  const etcdMembers = await options.control.launch(NETNS_ETCD_MEMBERS, {
    args: ['start', ...options.etcdHosts.flatMap((h) => ['--member', `${h.address}=${h.namespace}`]), '--data-dir', path.join(options.control.dataDir, 'etcd')],
    readyTimeoutMs: 45_000,
    name: 'etcd',
  });
  const etcd: EtcdClusterAccess = {
    endpoints: etcdMembers.ready['endpoints'] as string[],
    username: String(etcdMembers.ready['username']),
    password: String(etcdMembers.ready['password']),
  };
  const hosts = new Map<Proc, NetnsHost>();
  const hostFor = (role: 'master' | 'taskexecutor', index: number): NetnsHost => {
    const host = (role === 'master' ? options.masterHosts : options.taskExecutorHosts)[index];
    if (!host) throw new RangeError(`no host for ${role} ${index + 1}: list one more in ${role === 'master' ? 'masterHosts' : 'taskExecutorHosts'}`);
    return host;
  };
  // Its own host's address and disk; the later --work-dir wins over the shared one.
  const onHost = (role: 'master' | 'taskexecutor') => (index: number) => ['--host', hostFor(role, index).address, '--work-dir', hostFor(role, index).dataDir];
  let processes: HaProcesses;
  try {
    processes = await startHaProcesses({
      etcd,
      workDir,
      masters: options.masterHosts.length,
      taskExecutors: options.taskExecutors ?? options.taskExecutorHosts.length,
      slots: options.slots ?? 2,
      env: {
        FLINKISH_CHECKPOINT_DIR: path.join(workDir, 'checkpoints'),
        FLINKISH_SAVEPOINT_DIR: path.join(workDir, 'savepoints'),
        ...options.env,
      },
      masterArgs: onHost('master'),
      taskExecutorArgs: onHost('taskexecutor'),
      launchOn: (role, index) => async (script, launchOptions) => {
        const host = hostFor(role, index);
        const proc = await host.launch(script, launchOptions);
        hosts.set(proc, host);
        return proc;
      },
    });
  } catch (err) {
    await etcdMembers.stop();
    throw err;
  }
  return {
    ...processes,
    etcdMembers,
    etcd,
    hostOf(proc) {
      const host = hosts.get(proc);
      if (!host) throw new RangeError(`${proc.name} is not a process of this cluster`);
      return host;
    },
    async moveEtcdLeaderAwayFrom(host) {
      const away = etcd.endpoints.find((u) => new URL(u).hostname === host.address);
      if (!away) return etcd.endpoints[0]!; // no member there
      const moved = await options.control.launch(NETNS_ETCD_MEMBERS, {
        args: ['move-leader', '--endpoints', etcd.endpoints.join(','), '--away-from', away],
        env: processes.env,
        readyTimeoutMs: 15_000,
        name: 'etcd-move-leader',
      });
      await moved.waitForExit();
      return String(moved.ready['leader']);
    },
    async stop(stopOptions = {}) {
      await processes.stop();
      await etcdMembers.stop();
      if (ownsDir && !stopOptions.keepWorkDir) rmSync(workDir, { recursive: true, force: true });
    },
  };
}
