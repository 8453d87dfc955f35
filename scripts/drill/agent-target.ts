/**
 * The drill's target for a cluster that is already running (`flinkish drill --cluster FILE`):
 * the hosts, processes and agents of the cluster file (cluster-file.ts), and faults injected
 * through each host's `flinkish agent` (scripts/agent/): signals to the Master or TaskExecutor
 * the fault is about, and nftables rules that cut hosts' links.
 *
 * The agents start nothing: a killed Master or TaskExecutor is not replaced (unless the cluster's
 * own supervisor, e.g. systemd, restarts it), so plan the schedule within the cluster's spare
 * Masters and slots. `etcd-kill` needs the member restarted and is not offered here.
 *
 * A partition drops, at each receiving host, what arrives from the cut peers (as a broken link
 * does; see scripts/support/netns/hosts.ts): a symmetric cut between A and B installs a `from`
 * rule on both, a one-way cut A→B only on B. The drill's own host is never cut (it is not a host of
 * the file, or its agent's port stays open), so it can always heal.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { ClusterClient } from '../../lib/client/cluster-client.js';
import { AgentClient } from '../agent/client.js';
import type { AgentProcess, AgentSignal } from '../agent/protocol.js';
import { waitFor } from '../support/wait.js';
import type { DrillTarget } from './drill.js';
import { ClusterFileError, DrillErrorCode } from './errors.js';
import type { ClusterFile, ClusterFileHost, ClusterFileProcess } from './cluster-file.js';
import { DEADLINE, untilRunning, type FaultContext, type FaultKind, type FaultOutcome } from './faults.js';
import { ErrorCode, RuntimeError } from '../../lib/errors.js';

/** The faults a drill through agents injects. */
export const AgentFaultKinds = ['leader-kill', 'leader-pause', 'te-kill', 'partition-leader', 'partition-te', 'one-way-partition'] as const satisfies readonly FaultKind[];

/** Partitions outlive no drill by much: each rule expires by itself after this, if never healed. */
const PARTITION_EXPIRY_MS = 5 * 60_000;

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

interface Located<P extends ClusterFileProcess = ClusterFileProcess> {
  host: ClusterFileHost;
  entry: P;
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
  /** Processes the drill SIGSTOPped and has not resumed yet, and whether any rule may be in force. */
  const paused = new Map<string, { host: ClusterFileHost; proc: AgentProcess }>();
  let cutsInForce = false;

  const agentOf = (host: ClusterFileHost): AgentClient => agents.get(host)!;
  const all = (): Located[] => file.hosts.flatMap((host) => host.processes.map((entry) => ({ host, entry })));

  /** The live process behind a file entry, as its host's agent lists it now. */
  async function processOf({ host, entry }: Located): Promise<AgentProcess> {
    const proc = (await agentOf(host).list()).find((p) => p.listening.some((l) => listensAt(l, entry.address)));
    if (!proc) throw new RuntimeError(DrillErrorCode.ProcessNotFound, `host ${host.name}: no flinkish process listens on ${entry.address} any more (the ${entry.role} of the cluster file)`);
    return proc;
  }

  async function signal(target: Located, sig: AgentSignal): Promise<AgentProcess> {
    const proc = await processOf(target);
    // Recorded before it is sent: an interrupted drill resumes it whether or not the reply came.
    if (sig === 'SIGSTOP') paused.set(target.entry.address, { host: target.host, proc });
    await agentOf(target.host).signal(proc, sig);
    if (sig === 'SIGCONT') paused.delete(target.entry.address);
    return proc;
  }

  function leaderNow(): Located<Extract<ClusterFileProcess, { role: 'master' }>> | undefined {
    const address = client.masterAddress;
    return all().find((l): l is Located<Extract<ClusterFileProcess, { role: 'master' }>> => l.entry.role === 'master' && l.entry.address === address);
  }

  async function leader(): Promise<Located<Extract<ClusterFileProcess, { role: 'master' }>>> {
    return waitFor('a leader listed in the cluster file', () => {
      const found = leaderNow();
      if (!found && client.masterAddress) throw new RuntimeError(DrillErrorCode.ProcessNotFound, `the leader ${client.masterAddress} is no Master of the cluster file`);
      return found;
    }, DEADLINE);
  }

  const newLeader = (old: string) =>
    waitFor('a new leader', () => {
      const now = client.masterAddress;
      return now && now !== old ? now : undefined;
    }, DEADLINE);

  /** Set once the drill restores the cluster: no cut may be installed after that. */
  let restoring = false;
  /** The cut being installed, which a restore waits for before it heals. */
  let cutting: Promise<void> = Promise.resolve();

  /** Cut every host of `from` off from every host of `to` (and back unless `oneWay`). */
  function cut(from: ClusterFileHost[], to: ClusterFileHost[], oneWay: boolean): Promise<void> {
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
    return cutting;
  }

  async function healAll(): Promise<void> {
    for (const agent of agents.values()) await agent.heal();
    cutsInForce = false;
  }

  const others = (host: ClusterFileHost) => file.hosts.filter((h) => h !== host);

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
    options.log(`${signal}: healing every cut and resuming every paused process before exiting`);
    void restore().then((problems) => {
      for (const problem of problems) options.log(`could not restore: ${problem}`);
      process.exit(problems.length > 0 ? 1 : 130);
    });
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);

  /** A TaskExecutor of the file that runs a subtask of the job now. */
  async function busyTaskExecutor(ctx: FaultContext): Promise<{ te: Located<Extract<ClusterFileProcess, { role: 'taskexecutor' }>>; attempt: number }> {
    const details = await ctx.client.status(ctx.jobId);
    const ids = new Set(details.subtasks.map((s) => s.taskExecutorId).filter(Boolean));
    const te = all().find((l): l is Located<Extract<ClusterFileProcess, { role: 'taskexecutor' }>> => l.entry.role === 'taskexecutor' && ids.has(l.entry.id));
    if (!te) throw new RuntimeError(DrillErrorCode.ProcessNotFound, `the job runs on TaskExecutors ${[...ids].join(', ')}, none of which the cluster file lists`);
    return { te, attempt: details.attempt };
  }

  const noticed = (ctx: FaultContext, attempt: number) =>
    waitFor('the job to notice', async () => {
      const d = await ctx.client.status(ctx.jobId);
      return d.state !== 'running' || d.attempt > attempt ? Date.now() : undefined;
    }, DEADLINE);

  /** Until `at` + the lease TTL + 1 s: a cut or paused leader's lease has surely run out. */
  const pastLease = (ctx: FaultContext, at: number) =>
    waitFor('the old lease to run out', () => Date.now() >= at + ctx.leaseTtlMs + 1000, { timeoutMs: ctx.leaseTtlMs + 5000, intervalMs: 50 });

  async function leaderFault(kind: 'leader-kill' | 'leader-pause', ctx: FaultContext): Promise<FaultOutcome> {
    const target = await leader();
    const attempt = (await ctx.client.status(ctx.jobId)).attempt;
    const at = Date.now();
    await signal(target, kind === 'leader-kill' ? 'SIGKILL' : 'SIGSTOP');
    const next = await newLeader(target.entry.address);
    const newLeaderMs = Date.now() - at;
    ctx.log(`  new leader ${next} after ${newLeaderMs} ms`);
    let note = 'not replaced: the agents start nothing';
    if (kind === 'leader-pause') {
      await pastLease(ctx, at);
      const wokeAt = Date.now();
      await signal(target, 'SIGCONT');
      note = target.entry.logFile
        ? (await waitFor('the woken leader to step down', () => loggedSince(target.entry.logFile!, 'leadership revoked', wokeAt - ctx.leaseTtlMs - 1000), { timeoutMs: 20_000, intervalMs: 100 }), 'zombie woke and stepped down')
        : 'zombie woke (no logFile to see it step down)';
    }
    const runningAgainMs = await untilRunning(ctx, at, attempt);
    return { kind, target: `${target.entry.address} on ${target.host.name}`, at, detectionMs: newLeaderMs, newLeaderMs, runningAgainMs, note };
  }

  async function teKill(ctx: FaultContext): Promise<FaultOutcome> {
    const { te, attempt } = await busyTaskExecutor(ctx);
    const at = Date.now();
    await signal(te, 'SIGKILL');
    const detected = await noticed(ctx, attempt);
    const runningAgainMs = await untilRunning(ctx, at, attempt);
    return { kind: 'te-kill', target: `${te.entry.id} on ${te.host.name}`, at, detectionMs: detected - at, newLeaderMs: null, runningAgainMs, note: 'not replaced: the agents start nothing' };
  }

  async function partitionLeader(ctx: FaultContext): Promise<FaultOutcome> {
    const target = await leader();
    const attempt = (await ctx.client.status(ctx.jobId)).attempt;
    const at = Date.now();
    await cut([target.host], others(target.host), false);
    const next = await newLeader(target.entry.address);
    const newLeaderMs = Date.now() - at;
    ctx.log(`  new leader ${next} after ${newLeaderMs} ms; healing once the old lease ran out`);
    await pastLease(ctx, at);
    await healAll();
    const runningAgainMs = await untilRunning(ctx, at, attempt);
    return { kind: 'partition-leader', target: `${target.host.name} (leader ${target.entry.address})`, at, detectionMs: newLeaderMs, newLeaderMs, runningAgainMs, note: 'healed after the lease TTL + 1 s' };
  }

  async function partitionTe(ctx: FaultContext): Promise<FaultOutcome> {
    const { te, attempt } = await busyTaskExecutor(ctx);
    const at = Date.now();
    await cut([te.host], others(te.host), false);
    const detected = await noticed(ctx, attempt);
    // Its subtasks restart on the other hosts while it is cut off; then the link comes back.
    const runningAgainMs = await untilRunning(ctx, at, attempt + 1);
    await healAll();
    return { kind: 'partition-te', target: `${te.host.name} (TaskExecutor ${te.entry.id})`, at, detectionMs: detected - at, newLeaderMs: null, runningAgainMs, note: 'healed once the job ran elsewhere' };
  }

  async function oneWay(ctx: FaultContext): Promise<FaultOutcome> {
    const target = await leader();
    const { te, attempt } = await busyTaskExecutor(ctx);
    if (te.host === target.host) {
      return { kind: 'one-way-partition', target: '-', at: Date.now(), detectionMs: null, newLeaderMs: null, runningAgainMs: null, note: 'skipped: the leader and the TaskExecutor share a host' };
    }
    const at = Date.now();
    await cut([target.host], [te.host], true);
    // Held as long as a lease: long enough for heartbeats to time out if they are going to.
    let detected: number | null = null;
    await waitFor('the one-way cut to be held', async () => {
      if (detected === null) {
        const d = await ctx.client.status(ctx.jobId).catch(() => null);
        if (d && (d.state !== 'running' || d.attempt > attempt)) detected = Date.now();
      }
      return Date.now() >= at + ctx.leaseTtlMs + 1000;
    }, { timeoutMs: ctx.leaseTtlMs + 30_000, intervalMs: 100 });
    await healAll();
    const runningAgainMs = await untilRunning(ctx, at, attempt);
    return {
      kind: 'one-way-partition',
      target: `${target.host.name} → ${te.host.name}`,
      at,
      detectionMs: detected === null ? null : detected - at,
      newLeaderMs: null,
      runningAgainMs,
      note: detected === null ? 'the job kept running' : 'the job restarted',
    };
  }

  return {
    description: `the cluster of ${file.file}: ${file.hosts.length} hosts, faults through their agents`,
    client: async () => client,
    outputDir,
    async inject(kind, ctx) {
      switch (kind) {
        case 'leader-kill':
        case 'leader-pause':
          return leaderFault(kind, ctx);
        case 'te-kill':
          return teKill(ctx);
        case 'partition-leader':
          return partitionLeader(ctx);
        case 'partition-te':
          return partitionTe(ctx);
        case 'one-way-partition':
          return oneWay(ctx);
        case 'etcd-kill':
          throw new RuntimeError(DrillErrorCode.FaultUnavailable, 'etcd-kill: a killed member must be restarted, and the agents start nothing; drill etcd with partition-leader or locally');
      }
    },
    async stop() {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      const problems = await restore();
      await client.close().catch(() => undefined);
      closeAll();
      if (problems.length > 0) throw new RuntimeError(DrillErrorCode.RestoreFailed, `could not restore the cluster: ${problems.join('; ')}`);
    },
    masterLogs() {
      const logs: Array<{ master: string; lines: string[] }> = [];
      const problems: string[] = [];
      for (const { host, entry } of all()) {
        if (entry.role !== 'master') continue;
        const name = `${entry.address} on ${host.name}`;
        if (!entry.logFile) {
          problems.push(`Master ${name} is not audited: the cluster file gives no logFile for it`);
          continue;
        }
        try {
          logs.push({ master: name, lines: readFileSync(entry.logFile, 'utf8').split('\n') });
        } catch (err) {
          problems.push(`Master ${name} is not audited: its log ${entry.logFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        }
      }
      return { logs, problems };
    },
    finish(passed) {
      if (passed) rmSync(outputDir, { recursive: true, force: true });
      else options.log(`the job's output kept in ${outputDir}; the processes' logs are the cluster's own`);
      return null;
    },
  };
}

/** Whether the log file has a line with `msg` logged after `since` (pino's `time`). */
function loggedSince(file: string, msg: string, since: number): boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  return text.split('\n').some((line) => {
    if (!line.startsWith('{') || !line.includes(msg)) return false;
    try {
      const entry = JSON.parse(line) as { msg?: string; time?: number };
      return entry.msg === msg && (entry.time ?? 0) > since;
    } catch {
      return false;
    }
  });
}
