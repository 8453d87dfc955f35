/**
 * The drill's target on namespace hosts (scripts/support/netns/): real partitions (nftables) and
 * hosts that die with their disk. Layout of N hosts:
 *
 *   h0          control: the etcd launcher and the drill's client (client-proxy.ts), never faulted
 *   h1..h3      an etcd member and a Master each (each Master talks to its own host's member)
 *   h4..h(N-1)  the TaskExecutors, one slot each, dealt round-robin (at least 3 hosts: the job's 2 and a spare)
 *
 * Checkpoints and the job's output go to a directory every host sees (namespaces share the
 * filesystem), as a shared store would be; each process's work directory is its host's disk.
 * Needs root, `ip` and `nft` (NetnsHosts.create says what is missing).
 */
import { request } from 'node:http';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { RuntimeError } from '../../lib/errors.js';
import type { Proc } from '../support/launcher.js';
import { startNetnsHaCluster, type NetnsHaCluster } from '../support/netns-ha.js';
import { NetnsHosts, type NetnsHost } from '../support/netns/hosts.js';
import { childProcessOperations, describeProcess, readLogFile } from './local-target.js';
import type { DrillClient, DrillProcess, DrillTarget } from './target.js';

/** h0 control, h1..h3 etcd + Master, then the TaskExecutor hosts. */
export const CONTROL_HOSTS = 1;
export const MASTER_HOSTS = 3;
/** The job's two TaskExecutors and a spare, each on a host of its own. */
export const MIN_TASK_EXECUTOR_HOSTS = 3;
export const MIN_HOSTS = CONTROL_HOSTS + MASTER_HOSTS + MIN_TASK_EXECUTOR_HOSTS;
/** The drill's job runs at this parallelism, one slot per TaskExecutor. */
export const HOSTS_JOB_PARALLELISM = 2;

export interface HostsTargetOptions {
  hosts: number;
  taskExecutors: number;
  leaseTtlSeconds: number;
}

export async function startHostsTarget(options: HostsTargetOptions): Promise<DrillTarget> {
  const net = await NetnsHosts.create({ hosts: options.hosts });
  let cluster: NetnsHaCluster | undefined;
  let proxy: Proc | undefined;
  try {
    const [control, m1, m2, m3, ...teHosts] = net.hosts as [NetnsHost, NetnsHost, NetnsHost, NetnsHost, ...NetnsHost[]];
    // Where the n-th TaskExecutor runs: dealt over the TaskExecutor hosts now, and for a
    // replacement the host of the one it replaces (appended by startLike before it starts).
    const taskExecutorHosts = Array.from({ length: options.taskExecutors }, (_, i) => teHosts[i % teHosts.length]!);
    const masterHosts = [m1, m2, m3];
    cluster = await startNetnsHaCluster({
      control,
      etcdHosts: [m1, m2, m3],
      masterHosts,
      taskExecutorHosts,
      slots: 1,
      env: { FLINKISH_LEASE_TTL_SECONDS: String(options.leaseTtlSeconds), FLINKISH_METRICS_PORT: '-1' },
    });
    const socket = path.join(cluster.workDir, 'drill-client.sock');
    proxy = await control.launch('scripts/drill/client-proxy.js', { args: ['--socket', socket], env: cluster.env, name: 'drill-client', logFile: path.join(cluster.logsDir, 'drill-client.log'), readyTimeoutMs: 30_000 });
    return hostsTarget(net, cluster, proxy, socket, { masterHosts, taskExecutorHosts });
  } catch (err) {
    await proxy?.stop();
    await cluster?.stop({ keepWorkDir: false });
    await net.destroy();
    throw err;
  }
}

function hostsTarget(net: NetnsHosts, cluster: NetnsHaCluster, proxy: Proc, socket: string, lists: { masterHosts: NetnsHost[]; taskExecutorHosts: NetnsHost[] }): DrillTarget {
  const host = (name: string): NetnsHost => {
    const found = net.hosts.find((h) => h.name === name);
    if (!found) throw new RangeError(`no host ${name} in ${net.runId}`);
    return found;
  };
  const describe = (proc: Proc, role: DrillProcess['role']) => describeProcess(proc, role, cluster.hostOf(proc).name);
  const client = unixSocketClient(socket);
  return {
    kind: 'hosts',
    description: `an HA cluster on ${net.hosts.length} namespace hosts (${net.runId}): h0 control, h1-h3 an etcd member and a Master each, ${lists.taskExecutorHosts.length} TaskExecutors × 1 slot on h4-h${net.hosts.length - 1}`,
    outputDir: path.join(cluster.workDir, 'drill-output'),
    client,
    masters: () => cluster.masters.map((p) => describe(p, 'master')),
    taskExecutors: () => cluster.taskExecutors.map((p) => describe(p, 'taskexecutor')),
    async leader() {
      const node = await client.leaderNode();
      const proc = cluster.masters.find((m) => m.running && m.ready['node'] === node);
      return proc ? describe(proc, 'master') : undefined;
    },
    ...childProcessOperations,
    async startLike(like) {
      if (like.role === 'master') {
        lists.masterHosts.push(host(like.host));
        return describe(await cluster.startMaster(), 'master');
      }
      lists.taskExecutorHosts.push(host(like.host));
      return describe(await cluster.startTaskExecutor(), 'taskexecutor');
    },
    // No killEtcdMember: the members are the control host's etcd launcher's children; cut one off with partition-etcd-member.
    hosts: {
      etcdHosts: () => cluster.etcd.endpoints.map((url) => net.hosts.find((h) => h.address === new URL(url).hostname)!.name),
      partition: (from, to, partition) => net.partition(from.map(host), to.map(host), partition),
      isolate: (name) => net.isolate(host(name)),
      killHost: (name) => host(name).kill(),
      reviveHost: (name) => host(name).revive(),
    },
    masterLogs: () => ({ logs: cluster.masters.map((m) => ({ node: String(m.ready['node']), name: m.name.slice(m.name.indexOf('/') + 1), lines: readLogFile(m.logFile) })), problems: [] }),
    async stop() {
      await net.healAll();
      await proxy.stop();
      await cluster.stop({ keepWorkDir: true });
      await net.destroy();
    },
    finish(passed) {
      if (!passed) return cluster.logsDir;
      rmSync(cluster.workDir, { recursive: true, force: true });
      return null;
    },
  };
}

/** The {@link DrillClient} of client-proxy.ts, over its Unix socket. */
function unixSocketClient(socketPath: string): DrillClient {
  const call = <T>(body: Record<string, unknown>): Promise<T> =>
    new Promise((resolve, reject) => {
      const req = request({ socketPath, path: '/', method: 'POST', headers: { 'content-type': 'application/json' }, timeout: 40_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { value?: T; error?: { code: string; message: string } };
            if (answer.error) reject(new RuntimeError(answer.error.code, answer.error.message));
            else resolve(answer.value as T);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`the drill's client (${socketPath}) did not answer ${String(body['op'])} within 40 s`)));
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  return {
    submitFile: (file, options) => call({ op: 'submit', file, options }),
    status: (jobId) => call({ op: 'status', jobId }),
    result: (jobId) => call({ op: 'result', jobId }),
    leaderNode: () => call({ op: 'leader' }),
  };
}
