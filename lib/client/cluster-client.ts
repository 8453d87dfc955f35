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
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ActorSystem } from '../actor/system.js';
import type { ActorRef } from '../actor/ref.js';
import { ErrorCode, RuntimeError } from '../errors.js';
import { EtcdHaServices } from '../ha/etcd-ha-services.js';
import type { LeaderRetrieval } from '../ha/types.js';
import type { Logger } from '../logging.js';
import type { JobDetails, JobResult } from '../../actors/jobmaster/status.js';
import type { JobSummary, MasterMessage } from '../../actors/master/protocol.js';
import type { ClusterOverview } from '../../actors/resourcemanager/protocol.js';

export interface ClientOptions {
  /** The Master's `host:port` (standalone mode). */
  masterAddress?: string;
  /** etcd endpoints (HA mode): the leader is looked up there. */
  etcdEndpoints?: string[];
  clusterId: string;
  secret: string;
  logger?: Logger;
  /** Timeout of each request to the Master. */
  requestTimeoutMs?: number;
  /** How long a request keeps retrying across a leader change. */
  failoverTimeoutMs?: number;
}

export interface SubmitOptions {
  parallelism?: number;
  args?: Record<string, unknown>;
  name?: string;
  fromSavepoint?: string;
}

/** Errors after which the Master certainly did not act on the request. */
const NOT_TAKEN = new Set(['NOT_LEADER', 'RECOVERING']);
/** Errors after which an idempotent request is worth sending again. */
const RETRYABLE = new Set(['NOT_LEADER', 'RECOVERING', ErrorCode.PeerUnreachable, ErrorCode.AskTimeout, ErrorCode.DeadLetter]);

export class ClusterClient {
  private constructor(
    private readonly system: ActorSystem,
    private readonly leaderAddress: () => string | null,
    private readonly closeHa: () => Promise<void>,
    private readonly timeoutMs: number,
    private readonly failoverTimeoutMs: number,
  ) {}

  static async connect(options: ClientOptions): Promise<ClusterClient> {
    const system = await ActorSystem.start({
      clusterId: options.clusterId,
      secret: options.secret,
      listen: false,
      // A submission larger than a Master accepts (8 MiB) fails here at once, with FRAME_TOO_LARGE.
      maxFrameBytes: 8 * 1024 * 1024,
      // Job results (collected records) are the largest replies; only the leader it dialed sends them.
      maxInboundFrameBytes: 16 * 1024 * 1024,
      maxDecodedBytes: 512 * 1024 * 1024,
      name: 'client',
      ...(options.logger ? { logger: options.logger } : {}),
    });
    let retrieval: LeaderRetrieval | null = null;
    let ha: EtcdHaServices | null = null;
    if (options.etcdEndpoints && options.etcdEndpoints.length > 0) {
      ha = new EtcdHaServices({ endpoints: options.etcdEndpoints, clusterId: options.clusterId, ...(options.logger ? { log: options.logger } : {}) });
      retrieval = ha.leaderRetrieval();
      retrieval.start(() => undefined);
    } else if (!options.masterAddress) {
      await system.terminate();
      throw new RuntimeError(ErrorCode.InvalidArgument, 'give the Master address or etcd endpoints');
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
    );
  }

  /** Submit the job module at `file`; resolves with the job id once the Master accepted it. */
  async submitFile(file: string, options: SubmitOptions = {}): Promise<string> {
    const code = await readFile(file);
    return this.submit(code, { name: path.basename(file).replace(/\.[cm]?[jt]s$/, ''), ...options });
  }

  async submit(code: Uint8Array, options: SubmitOptions = {}): Promise<string> {
    const { jobId } = await this.request(
      (master) =>
        master.ask(
          {
            type: 'master.job.submit',
            code,
            ...(options.name ? { name: options.name } : {}),
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

  /** Take a savepoint of a running job; with `stop`, cancel the job once it is taken. */
  savepoint(jobId: string, options: { dir?: string; stop?: boolean } = {}): Promise<{ path: string }> {
    return this.request(
      (master) =>
        master.ask(
          { type: 'master.job.savepoint', jobId, stop: options.stop ?? false, ...(options.dir ? { dir: path.resolve(options.dir) } : {}) },
          { timeoutMs: this.timeoutMs },
        ),
      NOT_TAKEN,
    );
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
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  async close(): Promise<void> {
    await this.closeHa();
    await this.system.terminate();
  }

  /** Send to the current leader; retry on the errors in `retryOn` until the failover deadline. */
  private async request<T>(send: (master: ActorRef<MasterMessage>) => Promise<T>, retryOn: ReadonlySet<string> = RETRYABLE): Promise<T> {
    const deadline = Date.now() + this.failoverTimeoutMs;
    for (;;) {
      const address = this.leaderAddress();
      if (address) {
        try {
          return await send(this.system.ref<MasterMessage>(address, 'master'));
        } catch (err) {
          const code = (err as RuntimeError).code;
          if (!retryOn.has(code) || Date.now() > deadline) throw err;
        }
      } else if (Date.now() > deadline) {
        throw new RuntimeError(ErrorCode.PeerUnreachable, `no leading Master found within ${this.failoverTimeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
