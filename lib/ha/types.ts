/**
 * The HA services' interfaces, as in Flink's `highavailability/` and `leaderelection/`
 * packages. The etcd implementations are the real ones; `InMemory*` exist for unit tests
 * of pure logic only.
 */

/** The component that wants to lead (the Master). Both callbacks run on the election's loop. */
export interface LeaderContender {
  /** This contender leads from now on, with this fencing token. */
  grantLeadership(sessionId: string): void;
  /** This contender must stop acting as leader now (called before its lease can expire). */
  revokeLeadership(): void;
}

/**
 * Proof of leadership for one term, taken by the stores: every write they make as leader
 * is guarded by it, so that an old leader's writes are refused once a newer term exists.
 */
export interface LeaderGuard {
  /** The term's fencing token: monotonic, compares as a string (see the election). */
  readonly sessionId: string;
  /** Throws FencingError if this term is over or its lease cannot be vouched for locally. */
  check(): void;
}

/**
 * Whether `guard`'s term still vouches for itself (its `check` without the throw). For a leader
 * about to act on something that reached it late: a process paused past its lease wakes up to
 * answers and messages of its term before its election's timers run, and the check ends the
 * term at once when the lease lapsed.
 */
export function termVouched(guard: LeaderGuard): boolean {
  try {
    guard.check();
    return true;
  } catch {
    return false;
  }
}

/** What a leader publishes beside its address, for clients that follow it (LeaderInfo carries it). */
export interface LeaderEndpoints {
  /** The leader's REST API (`host:port`), null when it serves none. */
  rest?: string | null;
  /**
   * The leader process's incarnation: the uid its transport handshake announces. A standby
   * checks it on its connection to the leader (leader-death.ts) before it counts that
   * connection's loss as the death of this term's process.
   */
  instance?: string;
}

export interface LeaderElection {
  /**
   * Start contending; `address` (and `endpoints`, if given) is what LeaderRetrieval reports
   * while this contender leads.
   */
  campaign(contender: LeaderContender, address: string, endpoints?: LeaderEndpoints): void;
  /** Give up leadership (or the candidacy) at once so that another contender takes over. */
  resign(): Promise<void>;
  /** Guard of the current term, or null when not leading. */
  guard(): LeaderGuard | null;
  /** Stop contending without resigning: the leader key expires with its lease (a crash). */
  close(): Promise<void>;
}

export interface LeaderInfo {
  address: string;
  sessionId: string;
  /** The leader's REST API (`host:port`) when it published one. */
  rest?: string | null;
  /** The leader process's incarnation uid, when it published one. */
  instance?: string;
  /** The term's lease (etcd's decimal id), when read from etcd: its key is `leader/<hex lease>`. */
  leaseId?: string;
}

export type LeaderListener = (leader: LeaderInfo | null) => void;

export interface LeaderRetrieval {
  /** Start following the leader; the listener is called on every change (null: no leader). */
  start(listener: LeaderListener): void;
  /** The last leader seen. */
  current(): LeaderInfo | null;
  close(): Promise<void>;
}

/** Job graphs of submitted, not yet terminal jobs, as opaque serializable values. */
export interface JobGraphStore {
  put(jobId: string, graph: unknown): Promise<void>;
  get(jobId: string): Promise<unknown | undefined>;
  remove(jobId: string): Promise<void>;
  /** Job ids in the store. */
  list(): Promise<string[]>;
  /** Record the attempt about to be deployed (a leader's write, fenced); removed with the graph. */
  putExecution(jobId: string, execution: JobExecution): Promise<void>;
  /** The last attempt recorded for the job, if any. */
  getExecution(jobId: string): Promise<JobExecution | undefined>;
}

/**
 * Which execution of a job was deployed last, kept with the job so that attempt numbers and
 * restart counts never go backwards across leaders: a new leader continues at `attempt + 1`.
 */
export interface JobExecution {
  attempt: number;
  restarts: number;
}

export const JobTerminalState = { Finished: 'finished', Failed: 'failed', Canceled: 'canceled' } as const;
export type JobTerminalState = (typeof JobTerminalState)[keyof typeof JobTerminalState];

export interface JobResult {
  jobId: string;
  state: JobTerminalState;
  [field: string]: unknown;
}

/** Final results of jobs, kept after their graph is removed, so a new leader does not rerun them. */
export interface JobResultStore {
  put(result: JobResult): Promise<void>;
  get(jobId: string): Promise<JobResult | undefined>;
  has(jobId: string): Promise<boolean>;
  list(): Promise<JobResult[]>;
}

/** Metadata of a completed checkpoint; state itself lives in checkpoint storage, not in etcd. */
export interface CheckpointMetadata {
  checkpointId: number;
  [field: string]: unknown;
}

export interface CompletedCheckpointStore {
  /**
   * Add a completed checkpoint of `jobId` and keep only the `retain` latest; returns the
   * subsumed ones (oldest first) so that the caller deletes their files.
   */
  add(jobId: string, checkpoint: CheckpointMetadata): Promise<CheckpointMetadata[]>;
  latest(jobId: string): Promise<CheckpointMetadata | undefined>;
  /** Checkpoints of `jobId`, oldest first. */
  list(jobId: string): Promise<CheckpointMetadata[]>;
  /** Remove every checkpoint of a job (on terminal state); returns what was removed. */
  removeJob(jobId: string): Promise<CheckpointMetadata[]>;
}

export interface CheckpointIdCounter {
  /** The next checkpoint id of `jobId` (starting at 1), unique and increasing across leaders. */
  getAndIncrement(jobId: string): Promise<number>;
  /** The id that getAndIncrement would return next, without taking it. */
  get(jobId: string): Promise<number>;
}
