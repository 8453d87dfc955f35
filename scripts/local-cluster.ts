/**
 * A local session cluster on loopback, as background processes: its own etcd (unless
 * `etcd: false`), M Masters (one leads, the others stand by) and N TaskExecutors. `start`
 * records their PIDs, addresses and the generated client secret in `<workDir>/cluster.json`
 * (mode 0600), so that `stop` and the client commands find them. The node secret, which only
 * Masters and TaskExecutors hold, goes to the processes' environment and to `<workDir>/node.secret`
 * (mode 0600, for starting more processes by hand), never to cluster.json: the CLI reads only the
 * client secret, so a CLI user cannot pose as a node. Each process logs to
 * `<workDir>/logs/`. Processes are stopped by PID: SIGTERM, then SIGKILL after a deadline.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEtcdCluster } from '../lib/ha/etcd-server.js';
import { etcdCredentialEnv } from '../lib/ha/etcd-auth.js';

export interface LocalClusterState {
  file: string;
  clusterId: string;
  /** What clients authenticate with; the node secret is not here (see the header). */
  clientSecret: string;
  /** The first Master's address (in HA mode the leader may be another: ask etcd). */
  masterAddress: string;
  etcdEndpoints: string[];
  /** The local etcd's root user (the file is 0600). */
  etcdUsername?: string;
  etcdPassword?: string;
  processes: Array<{ role: string; pid: number; log: string; node?: string; rest?: string | null }>;
}

const cliPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cli.js');

export function readClusterState(workDir: string): LocalClusterState | null {
  const file = path.join(workDir, 'cluster.json');
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as LocalClusterState;
}

export interface LocalClusterOptions {
  taskExecutors: number;
  slots: number;
  /** Port of the first Master (0: any free port). */
  port: number;
  workDir: string;
  /** Masters to start; more than one needs etcd. */
  masters?: number;
  /** Start a local etcd and run in HA mode (default true). */
  etcd?: boolean;
}

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalClusterState> {
  const workDir = path.resolve(options.workDir);
  const existing = readClusterState(workDir);
  if (existing && existing.processes.some((p) => alive(p.pid))) {
    throw new Error(`a local cluster is already running (${path.join(workDir, 'cluster.json')}); stop it with 'flinkish cluster stop'`);
  }
  mkdirSync(path.join(workDir, 'logs'), { recursive: true, mode: 0o700 });
  const state: LocalClusterState = {
    file: path.join(workDir, 'cluster.json'),
    clusterId: `local-${randomBytes(4).toString('hex')}`,
    clientSecret: randomBytes(24).toString('hex'),
    masterAddress: '',
    etcdEndpoints: [],
    processes: [],
  };
  const masters = options.masters ?? 1;
  const useEtcd = options.etcd ?? true;
  if (masters > 1 && !useEtcd) throw new Error('several Masters need etcd for leader election');
  try {
    if (useEtcd) {
      const etcd = await startEtcdCluster({ members: 1, dataDir: path.join(workDir, 'etcd'), detached: true });
      state.etcdEndpoints = etcd.endpoints;
      state.etcdUsername = etcd.credentials.username;
      state.etcdPassword = etcd.credentials.password;
      for (const member of etcd.members) state.processes.push({ role: `etcd-${member.name}`, pid: member.pid!, log: path.join(workDir, 'etcd', `${member.name}.log`) });
    }
    const nodeSecret = randomBytes(24).toString('hex');
    writeFileSync(path.join(workDir, 'node.secret'), nodeSecret + '\n', { mode: 0o600 });
    const { FLINKISH_CLIENT_SECRET: _ignored, ...inherited } = process.env;
    const env = {
      ...inherited,
      FLINKISH_SECRET: nodeSecret,
      FLINKISH_CLUSTER_ID: state.clusterId,
      FLINKISH_WORK_DIR: workDir,
      FLINKISH_ETCD_ENDPOINTS: state.etcdEndpoints.join(','),
      ...etcdCredentialEnv({ username: state.etcdUsername, password: state.etcdPassword }),
    };
    for (let i = 0; i < masters; i++) {
      const port = i === 0 ? options.port : 0;
      // Only Masters accept clients, so only they get the client secret.
      const masterEnv = { ...env, FLINKISH_CLIENT_SECRET: state.clientSecret };
      const master = await startDetached(`master-${i + 1}`, ['master', '--port', String(port), '--work-dir', workDir], masterEnv, workDir);
      state.processes.push(master);
      if (i === 0) state.masterAddress = master.node!;
    }
    const tes = await Promise.all(
      Array.from({ length: options.taskExecutors }, (_, i) =>
        startDetached(`taskexecutor-${i + 1}`, ['--master', state.masterAddress, 'taskexecutor', '--slots', String(options.slots), '--work-dir', workDir, '--id', `te-${i + 1}`], env, workDir),
      ),
    );
    state.processes.push(...tes);
  } catch (err) {
    for (const p of state.processes) kill(p.pid, 'SIGKILL');
    throw err;
  }
  writeFileSync(state.file, JSON.stringify(state, null, 2), { mode: 0o600 });
  return state;
}

export async function stopLocalCluster(workDir: string): Promise<number> {
  const state = readClusterState(path.resolve(workDir));
  if (!state) return 0;
  const pids = state.processes.map((p) => p.pid).filter(alive);
  // TaskExecutors first, so that they do not spend their last moments reconnecting; etcd last.
  const etcdPids = state.processes.filter((p) => p.role.startsWith('etcd')).map((p) => p.pid);
  for (const pid of [...pids].reverse()) if (!etcdPids.includes(pid)) kill(pid, 'SIGTERM');
  const others = pids.filter((pid) => !etcdPids.includes(pid));
  const early = Date.now() + 10_000;
  while (others.some(alive) && Date.now() < early) await new Promise((resolve) => setTimeout(resolve, 50));
  for (const pid of etcdPids) kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  for (const pid of pids.filter(alive)) kill(pid, 'SIGKILL');
  rmSync(state.file, { force: true });
  rmSync(path.join(path.dirname(state.file), 'node.secret'), { force: true });
  return pids.length;
}

async function startDetached(
  role: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  workDir: string,
): Promise<{ role: string; pid: number; log: string; node?: string; rest?: string | null }> {
  const log = path.join(workDir, 'logs', `${role}.log`);
  const fd = openSync(log, 'w', 0o600);
  const child = spawn(process.execPath, [cliPath, ...args], { env, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const pid = child.pid!;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const line = readFileSync(log, 'utf8')
      .split('\n')
      .find((l) => l.includes('"ready":true'));
    if (line) {
      const ready = JSON.parse(line) as { node: string; rest?: string | null };
      return { role, pid, log, node: ready.node, rest: ready.rest ?? null };
    }
    if (!alive(pid)) throw new Error(`${role} exited during start; see ${log}:\n${readFileSync(log, 'utf8').slice(-2000)}`);
    if (Date.now() > deadline) {
      kill(pid, 'SIGKILL');
      throw new Error(`${role} was not ready within 20 s; see ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
