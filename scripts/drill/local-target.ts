/**
 * The drill's local target: an HA cluster of child processes on loopback (scripts/support/
 * local-ha.ts), the client in this process. No hosts: faults are signals to processes and etcd
 * member kills.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { ClusterClient } from '../../lib/client/cluster-client.js';
import type { Proc } from '../support/launcher.js';
import { startHaCluster, type HaCluster } from '../support/local-ha.js';
import type { DrillProcess, DrillTarget } from './target.js';

export interface LocalTargetOptions {
  taskExecutors: number;
  slots: number;
  leaseTtlSeconds: number;
}

/** A drill process backed by a child handle (shared with the hosts target). */
export function describeProcess(proc: Proc, role: DrillProcess['role'], host: string): DrillProcess & { proc: Proc } {
  return {
    name: proc.name.slice(proc.name.lastIndexOf('/') + 1),
    role,
    node: String(proc.ready['node']),
    ...(role === 'taskexecutor' ? { taskExecutorId: String(proc.ready['taskExecutorId']) } : {}),
    host,
    proc,
    get running() {
      return proc.running;
    },
  };
}

/** The child handle behind a descriptor this module or hosts-target.ts made. */
export function procOf(process: DrillProcess): Proc {
  const proc = (process as DrillProcess & { proc?: Proc }).proc;
  if (!proc) throw new RangeError(`${process.name} is not a process this drill started`);
  return proc;
}

/** The operations of a target whose processes are child handles (local and hosts): signals and their output. */
export const childProcessOperations: Pick<DrillTarget, 'signal' | 'hasLog' | 'waitForLine'> = {
  async signal(process, signal) {
    if (signal === 'SIGSTOP') await procOf(process).pause();
    else procOf(process).kill(signal);
  },
  hasLog: () => true,
  async waitForLine(process, predicate, timeoutMs) {
    await procOf(process).waitForLine(predicate, timeoutMs);
  },
};

export function readLogFile(file: string | null): string[] {
  if (!file) return [];
  try {
    return readFileSync(file, 'utf8').split('\n');
  } catch {
    return [];
  }
}

export async function startLocalTarget(options: LocalTargetOptions): Promise<DrillTarget> {
  const cluster: HaCluster = await startHaCluster({
    etcdMembers: 3,
    masters: 3,
    taskExecutors: options.taskExecutors,
    slots: options.slots,
    env: { FLINKISH_LEASE_TTL_SECONDS: String(options.leaseTtlSeconds) },
  });
  let client: ClusterClient;
  try {
    client = await cluster.client();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  const describe = (proc: Proc, role: DrillProcess['role']) => describeProcess(proc, role, 'local');
  const masters = () => cluster.masters.map((p) => describe(p, 'master'));
  return {
    kind: 'local',
    description: `a local HA cluster in ${cluster.workDir}: 3 etcd members, 3 Masters, ${options.taskExecutors} TaskExecutors × ${options.slots} slots`,
    outputDir: path.join(cluster.workDir, 'drill-output'),
    client: {
      submitFile: (file, submit) => client.submitFile(file, submit),
      status: (jobId) => client.status(jobId),
      result: (jobId) => client.result(jobId),
      leaderNode: async () => client.masterAddress,
    },
    masters,
    taskExecutors: () => cluster.taskExecutors.map((p) => describe(p, 'taskexecutor')),
    async leader() {
      const proc = cluster.leader(client);
      return proc ? describe(proc, 'master') : undefined;
    },
    ...childProcessOperations,
    async startLike(like) {
      return like.role === 'master' ? describe(await cluster.startMaster(), 'master') : describe(await cluster.startTaskExecutor(), 'taskexecutor');
    },
    async killEtcdMember() {
      const running = cluster.etcd.members.filter((m) => m.running);
      const member = running[0];
      if (!member || running.length < 3) return null; // one more down would lose the quorum
      member.kill('SIGKILL');
      return { name: member.name, restart: () => member.restart() };
    },
    // From the complete log files: the in-memory buffers keep only each process's last lines.
    masterLogs: () => ({ logs: cluster.masters.map((m) => ({ node: String(m.ready['node']), name: m.name, lines: readLogFile(m.logFile) })), problems: [] }),
    taskExecutorLogs: () => cluster.taskExecutors.map((t) => ({ node: String(t.ready['node']), name: t.name, lines: readLogFile(t.logFile) })),
    async stop() {
      await cluster.stop({ keepWorkDir: true });
    },
    finish(passed) {
      if (!passed) return cluster.logsDir;
      rmSync(cluster.workDir, { recursive: true, force: true });
      return null;
    },
  };
}
