/**
 * What the drill drills: a cluster it can reach with a client and inject faults into. The drill
 * (drill.ts) and the faults (faults.ts) use only this interface; where the cluster runs is the
 * implementation's: local processes on loopback (local-target.ts), namespace hosts with real
 * partitions (hosts-target.ts), or a cluster already running elsewhere, reached through an agent
 * on each of its hosts (agent-target.ts).
 *
 * What a target cannot do is absent from it (an optional operation): a fault that needs it is
 * refused before the drill starts (options.ts, {@link capabilitiesOf}), and a step a fault can do
 * without (replacing a killed process) is skipped.
 *
 * A process is a plain descriptor, so that an implementation that reaches its processes through
 * something else than a child handle (an agent on each host) can describe them too.
 */
import type { JobDetails, JobResult } from '../../actors/jobmaster/status.js';

export interface DrillProcess {
  /** Unique in the cluster, e.g. `master-2`, `taskexecutor-te-3`. */
  readonly name: string;
  readonly role: 'master' | 'taskexecutor';
  /** Its node id (the address peers reach it at). */
  readonly node: string;
  /** TaskExecutors: the id the job's subtasks name. */
  readonly taskExecutorId?: string;
  /** The host it runs on (`local` for the local cluster). */
  readonly host: string;
  /** False once it exited or was killed. */
  readonly running: boolean;
}

/** The drill's view of the cluster's jobs, wherever its client runs. */
export interface DrillClient {
  submitFile(file: string, options: { parallelism?: number; args?: Record<string, unknown> }): Promise<string>;
  status(jobId: string): Promise<JobDetails>;
  /** The job's result, or null while it runs. */
  result(jobId: string): Promise<JobResult | null>;
  /** The node id of the Master the client sees leading now, or null. */
  leaderNode(): Promise<string | null>;
}

/** Cut traffic; healing is idempotent. */
export interface DrillPartition {
  heal(): Promise<void>;
}

/** Faults only several machines have (targets whose processes run on hosts of their own). */
export interface DrillHosts {
  /** Hosts that run an etcd member. */
  etcdHosts(): string[];
  /** Drop what every host of `from` sends to every host of `to` and, unless `oneWay`, back. */
  partition(from: string[], to: string[], options?: { oneWay?: boolean }): Promise<DrillPartition>;
  /** Cut `host` off from every other host, both directions. */
  isolate(host: string): Promise<DrillPartition>;
  /** Kill every process of `host` and delete its local disk; it stays off the network until revived. Absent where the drill cannot. */
  killHost?(host: string): Promise<void>;
  /** Boot a killed host again, with an empty disk (no process runs on it until one is started). */
  reviveHost?(host: string): Promise<void>;
}

/** An etcd member stopped by a fault, to be brought back. */
export interface StoppedEtcdMember {
  name: string;
  restart(): Promise<void>;
}

export interface MasterLog {
  node: string;
  name: string;
  lines: string[];
}

/** What a target can do beyond what every target does (a client, signals, its processes' output); each fault kind needs some (faults.ts `FaultNeeds`). */
export type DrillCapability =
  /** Start a replacement process (startLike). */
  | 'start'
  /** Kill and restart an etcd member (killEtcdMember). */
  | 'etcd-restart'
  /** Cut links between hosts (hosts). */
  | 'links'
  /** Kill a whole host with its disk and boot it again (hosts.killHost, hosts.reviveHost). */
  | 'host-kill';

/** The capabilities of a started target, from the operations it has. */
export function capabilitiesOf(target: DrillTarget): Set<DrillCapability> {
  const caps = new Set<DrillCapability>();
  if (target.startLike) caps.add('start');
  if (target.killEtcdMember) caps.add('etcd-restart');
  if (target.hosts) caps.add('links');
  if (target.hosts?.killHost && target.hosts.reviveHost) caps.add('host-kill');
  return caps;
}

export interface DrillTarget {
  /** What the report calls it: `local`, `hosts`, `cluster`. */
  readonly kind: string;
  /** One line for the progress log: what is drilled. */
  readonly description: string;
  readonly client: DrillClient;
  /** A directory the job's sink writes and the drill reads (the exactly-once check, the output's commit times). */
  readonly outputDir: string;
  /** Present when the cluster runs on several hosts. */
  readonly hosts?: DrillHosts;
  masters(): DrillProcess[];
  taskExecutors(): DrillProcess[];
  /** The running Master the client sees leading now, if any. */
  leader(): Promise<DrillProcess | undefined>;
  signal(process: DrillProcess, signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT'): Promise<void>;
  /** Whether the drill can read what `process` prints (then {@link waitForLine} works for it). */
  hasLog(process: DrillProcess): boolean;
  /** Resolves once `process` printed a line matching `predicate` (lines printed already count). */
  waitForLine(process: DrillProcess, predicate: (line: string) => boolean, timeoutMs: number): Promise<void>;
  /** Start a fresh process of `like`'s role on its host (a killed one's replacement keeps the cluster at size); absent where the drill starts nothing. */
  startLike?(like: DrillProcess): Promise<DrillProcess>;
  /** Kill one etcd member if the others keep a quorum (else null); absent where the drill cannot restart members. */
  killEtcdMember?(): Promise<StoppedEtcdMember | null>;
  /**
   * Every Master's complete log, read after `stop()`: the audit and the leadership timeline. A
   * Master whose log cannot be read is a problem (it is not audited, so the audit is not ok).
   */
  masterLogs(): { logs: MasterLog[]; problems: string[] };
  /** Every TaskExecutor's complete log, read after `stop()`, for the task-level fencing audit; absent where they cannot be read. */
  taskExecutorLogs?(): MasterLog[];
  /** Stop every process (and heal what is cut); the logs and the output stay until `finish()`. */
  stop(): Promise<void>;
  /** After the verdict: remove what a passed drill leaves; returns where the logs are kept (null: removed). */
  finish(passed: boolean): string | null;
}

export type { JobDetails, JobResult };
