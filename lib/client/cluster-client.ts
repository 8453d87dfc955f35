/**
 * The client: prepares a job (reads its module), sends it to the leading Master, and then
 * either disconnects or follows the job's progress until it ends. It runs a client-only actor
 * system: it dials the Master and is reachable only over that connection.
 *
 * In HA mode (etcd endpoints given) it finds the leader through etcd and follows it: a request
 * that meets a Master that no longer leads, one that is still recovering, or a lost connection
 * is retried against the new leader until `failoverTimeoutMs`. Submissions are retried only when
 * the Master certainly did not take them (not leader, recovering), never twice.
 */
import { randomUUID } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import path from 'node:path';
import { isBrokenCircuitError } from 'cockatiel';
import { ActorSystem } from '../actor/system.js';
import type { ActorRef } from '../actor/ref.js';
import { ErrorCode, RuntimeError } from '../errors.js';
import { EtcdHaServices } from '../ha/etcd-ha-services.js';
import { HaErrorCode } from '../ha/errors.js';
import { SavepointState, type SavepointRecord } from '../ha/etcd-savepoints.js';
import { SavepointErrorCode } from '../../actors/jobmaster/errors.js';
import { JobBuildErrorCode, MasterErrorCode } from '../../actors/master/errors.js';
import { HaKeys } from '../ha/etcd-client.js';
import { bundleJob } from './job-bundle.js';
import { EtcdUnreachableError, MasterUnreachableError, NoLeaderError } from './errors.js';
import type { LeaderRetrieval } from '../ha/types.js';
import type { EtcdCredentials } from '../ha/etcd-auth.js';
import type { Logger } from '../logging.js';
import { isUrlLocation } from '../storage/location.js';
import { parseHostPort } from '../util/host-address.js';
import { realClock, sleep, type Clock } from '../util/clock.js';
import type { JobDetails, JobResult } from '../../actors/jobmaster/status.js';
import type { JobSummary, MasterMessage } from '../../actors/master/protocol.js';
import type { ClusterOverview } from '../../actors/resourcemanager/protocol.js';

export interface ClientOptions {
  /** The Master's `host:port` (standalone mode). */
  masterAddress?: string;
  /** etcd endpoints (HA mode): the leader is looked up there. */
  etcdEndpoints?: string[];
  /** etcd user/password and TLS files, when etcd requires them. */
  etcdCredentials?: EtcdCredentials;
  clusterId: string;
  /** The client secret: a client never holds the node secret, and may speak only the client protocol. */
  clientSecret: string;
  logger?: Logger;
  /** Timeout of each request to the Master. */
  requestTimeoutMs?: number;
  /** How long a request keeps retrying across a leader change. */
  failoverTimeoutMs?: number;
  /** How long `connect` waits for etcd (HA mode) or the Master's port (standalone) to answer (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * HA mode: how long a request waits for a leader while this client has never seen one
   * (default `failoverTimeoutMs`). A CLI sets it short: no leader at all is an operator's
   * problem (Masters down, wrong cluster id), not a failover to sit out.
   */
  firstLeaderTimeoutMs?: number;
  /** Time of the retries, polls and deadlines (and of the client's actor system): the real clock by default. */
  clock?: Clock;
}

export interface SubmitOptions {
  parallelism?: number;
  args?: Record<string, unknown>;
  name?: string;
  /** The module's file, named in the Master's messages about it. */
  fileName?: string;
  fromSavepoint?: string;
}

/** Errors after which the Master certainly did not act on the request (a busy Master builds one module at a time). */
const NOT_TAKEN = new Set<string>([MasterErrorCode.NotLeader, MasterErrorCode.Recovering, JobBuildErrorCode.BuildBusy]);
/** Errors after which an idempotent request is worth sending again (never AUTH_FAILED: a wrong secret stays wrong). */
const RETRYABLE = new Set<string>([MasterErrorCode.NotLeader, MasterErrorCode.Recovering, ErrorCode.PeerUnreachable, ErrorCode.AskTimeout, ErrorCode.DeadLetter]);
/** Errors after which a savepoint request may have been taken and its outcome is decided in etcd. */
const OUTCOME_UNKNOWN: ReadonlySet<string> = new Set([ErrorCode.PeerUnreachable, ErrorCode.AskTimeout, ErrorCode.DeadLetter, HaErrorCode.LeadershipLost]);
/** How long a Master that answers, and has no record of a request, may still be about to record it. */
const RECORD_GRACE_MS = 5000;
/** How long a savepoint recorded in progress is waited for (the Master waits as long for its JobMaster). */
const SAVEPOINT_OUTCOME_TIMEOUT_MS = 10 * 60_000;

export class ClusterClient {
  private constructor(
    private readonly system: ActorSystem,
    private readonly leaderAddress: () => string | null,
    private readonly closeHa: () => Promise<void>,
    private readonly timeoutMs: number,
    private readonly failoverTimeoutMs: number,
    /** Explains a missing leader at the failover deadline (in HA mode: etcd unreachable, or no Master leads). */
    private readonly whyNoLeader: (waitedMs: number) => Promise<Error>,
    private readonly firstLeaderTimeoutMs: number,
  ) {}

  private sawLeader = false;

  static async connect(options: ClientOptions): Promise<ClusterClient> {
    const system = await ActorSystem.start({
      clusterId: options.clusterId,
      clientSecret: options.clientSecret,
      listen: false,
      // A submission larger than a Master accepts (8 MiB) fails here at once, with FRAME_TOO_LARGE.
      maxFrameBytes: 8 * 1024 * 1024,
      // Job results (collected records) are the largest replies; only the leader it dialed sends them.
      maxInboundFrameBytes: 16 * 1024 * 1024,
      maxDecodedBytes: 512 * 1024 * 1024,
      name: 'client',
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
    const clock = system.clock;
    let retrieval: LeaderRetrieval | null = null;
    let ha: EtcdHaServices | null = null;
    const endpoints = options.etcdEndpoints ?? [];
    if (endpoints.length > 0) {
      ha = new EtcdHaServices({ endpoints, ...options.etcdCredentials, clusterId: options.clusterId, ...(options.logger ? { log: options.logger } : {}), ...(options.clock ? { clock: options.clock } : {}) });
      // Fail fast, naming etcd, rather than waiting out the failover timeout for a leader.
      const unreachable = await reachEtcd(ha, options.connectTimeoutMs ?? 10_000, clock);
      if (unreachable) {
        await ha.close();
        await system.terminate();
        throw new EtcdUnreachableError(endpoints, unreachable.waitedMs, unreachable.cause);
      }
      retrieval = ha.leaderRetrieval();
      retrieval.start(() => undefined);
    } else if (!options.masterAddress) {
      await system.terminate();
      throw new RuntimeError(ErrorCode.InvalidArgument, 'give the Master address or etcd endpoints');
    } else {
      // A Master that is not there fails the client now, not after every request's retries.
      const unreachable = await reachPort(options.masterAddress, options.connectTimeoutMs ?? 10_000, clock);
      if (unreachable) {
        await system.terminate();
        throw new MasterUnreachableError(options.masterAddress, unreachable.waitedMs, unreachable.cause);
      }
    }
    const fixed = options.masterAddress ?? null;
    return new ClusterClient(
      system,
      () => (retrieval ? (retrieval.current()?.address ?? null) : fixed),
      async () => {
        await ha?.close();
      },
      options.requestTimeoutMs ?? 30_000,
      options.failoverTimeoutMs ?? 60_000,
      async (waitedMs) => {
        if (!ha) return new RuntimeError(ErrorCode.PeerUnreachable, `no Master found within ${waitedMs} ms`);
        const unreachable = await reachEtcd(ha, 2000, clock);
        return unreachable
          ? new EtcdUnreachableError(endpoints, waitedMs, unreachable.cause)
          : new NoLeaderError(options.clusterId, endpoints, waitedMs);
      },
      options.firstLeaderTimeoutMs ?? options.failoverTimeoutMs ?? 60_000,
    );
  }

  /**
   * Submit the job module at `file` (TypeScript or JavaScript), bundled here with its imports
   * (job-bundle.ts); resolves with the job id once the Master accepted it.
   */
  async submitFile(file: string, options: SubmitOptions = {}): Promise<string> {
    const { code, entry } = await bundleJob(file);
    return this.submit(code, { name: path.basename(file).replace(/\.[cm]?[jt]s$/, ''), fileName: entry, ...options });
  }

  async submit(code: Uint8Array, options: SubmitOptions = {}): Promise<string> {
    const { jobId } = await this.request(
      (master) =>
        master.ask(
          {
            type: 'master.job.submit',
            code,
            ...(options.name ? { name: options.name } : {}),
            ...(options.fileName ? { fileName: options.fileName } : {}),
            ...(options.parallelism ? { parallelism: options.parallelism } : {}),
            ...(options.args ? { args: options.args } : {}),
            ...(options.fromSavepoint ? { fromSavepoint: options.fromSavepoint } : {}),
          },
          { timeoutMs: this.timeoutMs },
        ),
      NOT_TAKEN,
    );
    return jobId;
  }

  list(): Promise<JobSummary[]> {
    return this.request((master) => master.ask({ type: 'master.job.list' }, { timeoutMs: this.timeoutMs }));
  }

  status(jobId: string): Promise<JobDetails> {
    return this.request((master) => master.ask({ type: 'master.job.status', jobId }, { timeoutMs: this.timeoutMs }));
  }

  /** The job's result, or null while it runs. */
  result(jobId: string): Promise<JobResult | null> {
    return this.request((master) => master.ask({ type: 'master.job.result', jobId }, { timeoutMs: this.timeoutMs }));
  }

  cancel(jobId: string): Promise<{ state: string }> {
    return this.request((master) => master.ask({ type: 'master.job.cancel', jobId }, { timeoutMs: this.timeoutMs }));
  }

  /**
   * Take a savepoint of a running job; with `stop`, end the job once it is taken. Resolves only
   * once etcd records the savepoint completed (and the stop intent): then the path is safe to
   * resume from. When the Master dies (or loses leadership) meanwhile, the outcome is read from
   * the leader that follows: the path if it completed, else SAVEPOINT_FAILED saying the job's state.
   */
  async savepoint(jobId: string, options: { dir?: string; stop?: boolean } = {}): Promise<{ path: string }> {
    const requestId = randomUUID();
    try {
      return await this.request(
        (master) =>
          master.ask(
            { type: 'master.job.savepoint', jobId, stop: options.stop ?? false, requestId, ...(options.dir ? { dir: isUrlLocation(options.dir) ? options.dir : path.resolve(options.dir) } : {}) },
            { timeoutMs: this.timeoutMs },
          ),
        NOT_TAKEN,
      );
    } catch (err) {
      if (!OUTCOME_UNKNOWN.has((err as RuntimeError).code)) throw err;
      return this.savepointOutcome(jobId, requestId, this.leaderAddress(), err);
    }
  }

  /** The job's savepoints as etcd records them: in progress, completed or failed. */
  savepoints(jobId: string): Promise<SavepointRecord[]> {
    return this.request((master) => master.ask({ type: 'master.job.savepoints', jobId }, { timeoutMs: this.timeoutMs }));
  }

  /** After the Master that took savepoint `requestId` went silent: wait for its record to be final. */
  private async savepointOutcome(jobId: string, requestId: string, askedLeader: string | null, cause: unknown): Promise<{ path: string }> {
    const since = this.clock.now();
    const deadline = since + SAVEPOINT_OUTCOME_TIMEOUT_MS;
    for (;;) {
      const records = await this.savepoints(jobId);
      const mine = records.find((r) => r.requestId === requestId);
      if (mine?.state === SavepointState.Completed) return { path: mine.path };
      // A new leader has settled what the old one left: no record means it never started.
      const settled = this.leaderAddress() !== askedLeader || this.clock.now() - since > RECORD_GRACE_MS;
      if (mine?.state === SavepointState.Failed || (!mine && settled) || this.clock.now() > deadline) {
        const why = mine?.failure ?? (mine ? `still in progress after ${SAVEPOINT_OUTCOME_TIMEOUT_MS} ms; see \`flinkish savepoints ${jobId}\`` : 'the Master was lost before it started the savepoint');
        const jobState = await this.jobState(jobId);
        throw new RuntimeError(SavepointErrorCode.Failed, `the savepoint of job ${jobId} did not complete (${why}); the job is ${jobState}`, {
          cause,
          details: { jobId, jobState, requestId, ...(mine ? { path: mine.path } : {}) },
        });
      }
      await sleep(this.clock, 200);
    }
  }

  private async jobState(jobId: string): Promise<string> {
    const result = await this.result(jobId);
    return result ? result.state : (await this.status(jobId)).state;
  }

  overview(): Promise<ClusterOverview> {
    return this.request((master) => master.ask({ type: 'master.cluster.overview' }, { timeoutMs: this.timeoutMs }));
  }

  /** The address of the Master this client talks to now (the leader, in HA mode). */
  get masterAddress(): string | null {
    return this.leaderAddress();
  }

  /** Follow a job until it ends, reporting its details every `pollMs` (across leader changes in HA mode). */
  async waitForResult(jobId: string, options: { pollMs?: number; onProgress?: (details: JobDetails) => void } = {}): Promise<JobResult> {
    const pollMs = options.pollMs ?? 250;
    for (;;) {
      const result = await this.result(jobId);
      if (result) return result;
      if (options.onProgress) {
        try {
          options.onProgress(await this.status(jobId));
        } catch {
          // The job may end between the two requests; the next round sees its result.
        }
      }
      await sleep(this.clock, pollMs);
    }
  }

  async close(): Promise<void> {
    await this.closeHa();
    await this.system.terminate();
  }

  /** Send to the current leader; retry on the errors in `retryOn` until the failover deadline. */
  private async request<T>(send: (master: ActorRef<MasterMessage>) => Promise<T>, retryOn: ReadonlySet<string> = RETRYABLE): Promise<T> {
    const waitMs = this.sawLeader ? this.failoverTimeoutMs : this.firstLeaderTimeoutMs;
    const deadline = this.clock.now() + waitMs;
    for (;;) {
      const address = this.leaderAddress();
      if (address) {
        this.sawLeader = true;
        try {
          return await send(this.system.ref<MasterMessage>(address, 'master'));
        } catch (err) {
          const code = (err as RuntimeError).code;
          if (!retryOn.has(code) || this.clock.now() > deadline) throw err;
        }
      } else if (this.clock.now() > deadline) {
        throw await this.whyNoLeader(waitMs);
      }
      await sleep(this.clock, 100);
    }
  }

  private get clock(): Clock {
    return this.system.clock;
  }
}

/** Read from etcd until it answers; null once it did, else how long it was tried and the last error. */
async function reachEtcd(ha: EtcdHaServices, timeoutMs: number, clock: Clock = realClock): Promise<{ waitedMs: number; cause: unknown } | null> {
  const started = clock.now();
  let cause: unknown;
  for (;;) {
    try {
      await ha.root.getAll().prefix(HaKeys.leaderPrefix).limit(1).keys();
      return null;
    } catch (err) {
      // The circuit breaker only says that earlier calls failed; keep why they did.
      if (!isBrokenCircuitError(err) || cause === undefined) cause = err;
      const waitedMs = clock.now() - started;
      if (waitedMs >= timeoutMs) return { waitedMs, cause };
      await sleep(clock, Math.min(200, timeoutMs - waitedMs));
    }
  }
}

/** Open (and close) a TCP connection to `host:port` until one succeeds; null once it did. */
async function reachPort(address: string, timeoutMs: number, clock: Clock = realClock): Promise<{ waitedMs: number; cause: unknown } | null> {
  const parsed = parseHostPort(address);
  if (!parsed) return { waitedMs: 0, cause: new Error(`'${address}' is not host:port`) };
  const { host, port } = parsed;
  const started = clock.now();
  for (;;) {
    const cause = await new Promise<Error | null>((resolve) => {
      const socket = tcpConnect({ host, port, timeout: 1000 });
      socket.once('connect', () => {
        socket.destroy();
        resolve(null);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(new Error('connect timed out'));
      });
      socket.once('error', resolve);
    });
    if (!cause) return null;
    const waitedMs = clock.now() - started;
    if (waitedMs >= timeoutMs) return { waitedMs, cause };
    await sleep(clock, Math.min(200, timeoutMs - waitedMs));
  }
}
