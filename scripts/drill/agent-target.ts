/**
 * The drill's target for a cluster that is already running (`flinkish drill --cluster FILE`):
 * the hosts, processes and agents of the cluster file (cluster-file.ts), with the
 * {@link DrillTarget} primitives done through each host's `flinkish agent` (scripts/agent/):
 * a signal goes to the process its agent finds listening at the file's address (verified by
 * pid and start time), a partition is nftables rules the agents install, a process's output is
 * its `logFile` (read from here: a shared filesystem), the leader is what the cluster's client sees.
 * The faults themselves are the drill's (faults.ts, host-faults.ts), as for any target.
 *
 * The agents start nothing: there is no `startLike` (a killed Master or TaskExecutor is not
 * replaced, unless the cluster's own supervisor, e.g. systemd, restarts it; plan the schedule
 * within the cluster's spare Masters and slots), no `killEtcdMember`, no host kill.
 *
 * A partition drops, at each receiving host, what arrives from the cut peers (as a broken link
 * does; see scripts/support/netns/hosts.ts): a symmetric cut between A and B installs a `from`
 * rule on both, a one-way cut A→B only on B. The drill's own host is never cut (it is not a host of
 * the file, or its agent's port stays open), so it can always heal. An interrupted drill
 * (SIGINT/SIGTERM) heals every cut and resumes every paused process before it exits (130).
 */
import { closeSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { ClusterClient } from '../../lib/client/cluster-client.js';
import { ErrorCode, RuntimeError } from '../../lib/errors.js';
import { AgentClient } from '../agent/client.js';
import type { AgentProcess, AgentSignal } from '../agent/protocol.js';
import { waitFor } from '../support/wait.js';
import type { ClusterFile, ClusterFileHost, ClusterFileProcess } from './cluster-file.js';
import { ClusterFileError, DrillErrorCode } from './errors.js';
import type { DrillPartition, DrillProcess, DrillTarget, MasterLog } from './target.js';
import { unpace } from '../support/unpace.js';

/** Partitions outlive no drill by much: each rule expires by itself after this, if never healed. */
const PARTITION_EXPIRY_MS = 5 * 60_000;
/** How often a process's log file is read for new lines while a fault waits for one. */
const LOG_POLL_MS = 100;

export interface AgentTargetOptions {
  clusterId: string;
  /** The cluster's node secret: what the agents require. */
  secret: string;
  /** A client of the cluster (the CLI's, from the file's cluster section and the configuration). */
  connectClient(): Promise<ClusterClient>;
  /** A name for this drill's output directory (fresh per run). */
  runName: string;
  log(line: string): void;
}

type Faultable = Exclude<ClusterFileProcess, { role: 'etcd' }>;

/** A Master or TaskExecutor of the file, as the drill's faults see it. */
interface AgentDrillProcess extends DrillProcess {
  readonly at: ClusterFileHost;
  readonly entry: Faultable;
}

/** Whether a listening address serves `address` (`host:port`): the same, or a wildcard bind on its port. */
function listensAt(listening: string, address: string): boolean {
  if (listening === address) return true;
  const port = address.slice(address.lastIndexOf(':') + 1);
  return ['0.0.0.0', '[::]', '[::ffff:0.0.0.0]'].some((any) => listening === `${any}:${port}`);
}

/**
 * Connect to every agent of the file and check that each listed Master and TaskExecutor is
 * there: an operator's mistake fails the drill before any fault, naming the host.
 */
export async function agentTarget(file: ClusterFile, options: AgentTargetOptions): Promise<DrillTarget> {
  const agents = new Map<ClusterFileHost, AgentClient>();
  const closeAll = () => {
    for (const agent of agents.values()) agent.close();
  };
  try {
    for (const host of file.hosts) {
      agents.set(host, await AgentClient.connect(host.agent, { clusterId: options.clusterId, secret: options.secret }).catch((err: Error) => {
        throw new RuntimeError((err as RuntimeError).code ?? ErrorCode.PeerUnreachable, `host ${host.name}: ${err.message}`, { cause: err });
      }));
    }
    for (const host of file.hosts) {
      const processes = await agents.get(host)!.list();
      for (const entry of host.processes) {
        if (entry.role === 'etcd') continue; // not a flinkish process: the agent never lists or signals it
        if (!processes.some((p) => p.listening.some((l) => listensAt(l, entry.address)))) {
          throw new ClusterFileError(
            file.file,
            `host ${host.name}`,
            `its agent lists no flinkish process listening on ${entry.address} (the ${entry.role} listed there); it lists ${processes.map((p) => `${p.role} ${p.pid} on ${p.listening.join(' ')}`).join(', ') || 'none'}`,
          );
        }
      }
    }
  } catch (err) {
    closeAll();
    throw err;
  }

  const client = await options.connectClient().catch((err: unknown) => {
    closeAll();
    throw err;
  });
  const outputDir = path.join(file.outputDir, options.runName);
  /** Processes the drill killed (the agents start nothing: they stay dead). */
  const killed = new Set<string>();
  /** Processes the drill SIGSTOPped and has not resumed yet. */
  const paused = new Map<string, { host: ClusterFileHost; proc: AgentProcess }>();
  let cutsInForce = false;

  const agentOf = (host: ClusterFileHost): AgentClient => agents.get(host)!;
  const processes: AgentDrillProcess[] = file.hosts.flatMap((host) =>
    host.processes
      .filter((entry): entry is Faultable => entry.role !== 'etcd')
      .map((entry) => ({
        name: `${entry.role === 'master' ? 'Master' : `TaskExecutor ${entry.id}`} ${entry.address} on ${host.name}`,
        role: entry.role,
        node: entry.address,
        ...(entry.role === 'taskexecutor' ? { taskExecutorId: entry.id } : {}),
        host: host.name,
        at: host,
        entry,
        get running() {
          return !killed.has(entry.address);
        },
      })),
  );
  const ours = (process: DrillProcess): AgentDrillProcess => {
    const found = processes.find((p) => p.node === process.node);
    if (!found) throw new RangeError(`${process.name} is no process of ${file.file}`);
    return found;
  };
  const hostNamed = (name: string): ClusterFileHost => {
    const found = file.hosts.find((h) => h.name === name);
    if (!found) throw new RangeError(`no host ${name} in ${file.file}`);
    return found;
  };

  /** The live process behind a file entry, as its host's agent lists it now. */
  async function liveProcess({ at, entry }: AgentDrillProcess): Promise<AgentProcess> {
    const proc = (await agentOf(at).list()).find((p) => p.listening.some((l) => listensAt(l, entry.address)));
    if (!proc) throw new RuntimeError(DrillErrorCode.ProcessNotFound, `host ${at.name}: no flinkish process listens on ${entry.address} any more (the ${entry.role} of the cluster file)`);
    return proc;
  }

  /** Set once the drill restores the cluster: no cut may be installed after that. */
  let restoring = false;
  /** The cut being installed, which a restore waits for before it heals. */
  let cutting: Promise<void> = Promise.resolve();

  async function healAll(): Promise<void> {
    for (const agent of agents.values()) await agent.heal();
    cutsInForce = false;
  }

  /** Cut every host of `from` off from every host of `to` (and back unless `oneWay`). */
  async function cut(from: ClusterFileHost[], to: ClusterFileHost[], oneWay: boolean): Promise<DrillPartition> {
    if (restoring) throw new RuntimeError(DrillErrorCode.RestoreFailed, 'the drill is restoring the cluster: no new cut');
    cutsInForce = true;
    cutting = (async () => {
      for (const a of from) {
        for (const b of to) {
          if (a === b) continue;
          if (restoring) return;
          await agentOf(b).partition(a.address, 'from', PARTITION_EXPIRY_MS);
          if (!oneWay && !restoring) await agentOf(a).partition(b.address, 'from', PARTITION_EXPIRY_MS);
        }
      }
    })();
    await cutting;
    return { heal: () => healAll() };
  }

  /** Leave the cluster as whole as the drill can: nothing paused, nothing cut. Resolves with what failed. */
  async function restore(): Promise<string[]> {
    restoring = true;
    await cutting.catch(() => undefined);
    const problems: string[] = [];
    for (const { host, proc } of paused.values()) await agentOf(host).signal(proc, 'SIGCONT').catch((err: Error) => problems.push(err.message));
    paused.clear();
    if (cutsInForce) await healAll().catch((err: Error) => problems.push(err.message));
    return problems;
  }

  // An interrupted drill (Ctrl-C, a supervisor's SIGTERM) heals and resumes before it exits.
  const onSignal = (signal: NodeJS.Signals): void => {
    options.log(`${signal}: healing every cut and resuming every paused process before exiting; the job runs on alone, unpaced`);
    try {
      unpace(outputDir);
    } catch (err) {
      options.log(`could not unpace the job: ${(err as Error).message}`);
    }
    void restore().then((problems) => {
      for (const problem of problems) options.log(`could not restore: ${problem}`);
      process.exit(problems.length > 0 ? 1 : 130);
    });
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);

  const others = (host: ClusterFileHost) => file.hosts.filter((h) => h !== host);
  const masters = processes.filter((p) => p.role === 'master');

  return {
    kind: 'cluster',
    description: `the cluster of ${file.file}: ${file.hosts.length} hosts, faults through their agents`,
    client: {
      submitFile: (job, submit) => client.submitFile(job, submit),
      status: (jobId) => client.status(jobId),
      result: (jobId) => client.result(jobId),
      leaderNode: async () => client.masterAddress,
    },
    outputDir,
    masters: () => masters,
    taskExecutors: () => processes.filter((p) => p.role === 'taskexecutor'),
    async leader() {
      const address = client.masterAddress;
      if (!address) return undefined;
      const found = masters.find((m) => m.node === address);
      if (!found) throw new RuntimeError(DrillErrorCode.ProcessNotFound, `the leader ${address} is no Master of the cluster file`);
      return found.running ? found : undefined;
    },
    async signal(process, sig: AgentSignal) {
      const target = ours(process);
      const proc = await liveProcess(target);
      // Recorded before it is sent: an interrupted drill resumes it whether or not the reply came.
      if (sig === 'SIGSTOP') paused.set(target.node, { host: target.at, proc });
      await agentOf(target.at).signal(proc, sig);
      if (sig === 'SIGCONT') paused.delete(target.node);
      if (sig === 'SIGKILL') killed.add(target.node);
    },
    hasLog: (process) => ours(process).entry.logFile !== undefined,
    async waitForLine(process, predicate, timeoutMs) {
      const { entry, name } = ours(process);
      if (!entry.logFile) throw new RuntimeError(DrillErrorCode.FaultUnavailable, `${name}: the cluster file gives no logFile to read its output from`);
      const log = new LogFollower(entry.logFile);
      await waitFor(`a line of ${name} in ${entry.logFile}`, () => log.newLines().some(predicate), { timeoutMs, intervalMs: LOG_POLL_MS });
    },
    hosts: {
      etcdHosts: () => file.hosts.filter((h) => h.processes.some((p) => p.role === 'etcd')).map((h) => h.name),
      partition: (from, to, partition) => cut(from.map(hostNamed), to.map(hostNamed), partition?.oneWay ?? false),
      isolate: (name) => cut([hostNamed(name)], others(hostNamed(name)), false),
    },
    masterLogs() {
      const logs: MasterLog[] = [];
      const problems: string[] = [];
      for (const { entry, name, node } of masters) {
        if (!entry.logFile) {
          problems.push(`${name} is not audited: the cluster file gives no logFile for it`);
          continue;
        }
        try {
          logs.push({ node, name, lines: readFileSync(entry.logFile, 'utf8').split('\n') });
        } catch (err) {
          problems.push(`${name} is not audited: its log ${entry.logFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        }
      }
      return { logs, problems };
    },
    async stop() {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      const problems = await restore();
      await client.close().catch(() => undefined);
      closeAll();
      if (problems.length > 0) throw new RuntimeError(DrillErrorCode.RestoreFailed, `could not restore the cluster: ${problems.join('; ')}`);
    },
    finish(passed) {
      if (passed) rmSync(outputDir, { recursive: true, force: true });
      else options.log(`the job's output kept in ${outputDir}; the processes' logs are the cluster's own`);
      return null;
    },
  };
}

/** Reads a growing log file's complete lines, each once, from its start. */
class LogFollower {
  private offset = 0;
  private partial = '';
  /** Keeps a character split between two reads whole. */
  private readonly decoder = new StringDecoder('utf8');

  constructor(private readonly file: string) {}

  /** The lines appended since the last call (none while the file cannot be read). */
  newLines(): string[] {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return [];
    }
    const chunks: string[] = [];
    try {
      const buffer = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, this.offset);
        if (n === 0) break;
        this.offset += n;
        chunks.push(this.decoder.write(buffer.subarray(0, n)));
      }
    } finally {
      closeSync(fd);
    }
    const text = this.partial + chunks.join('');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    return lines;
  }
}
