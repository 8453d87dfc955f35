/**
 * The client: prepares a job (reads its module), sends it to the leading Master, and then
 * either disconnects or follows the job's progress until it ends. It runs a client-only actor
 * system: it dials the Master and is reachable only over that connection.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ActorSystem } from '../actor/system.js';
import type { ActorRef } from '../actor/ref.js';
import type { Logger } from '../logging.js';
import type { JobDetails, JobResult } from '../../actors/jobmaster/status.js';
import type { JobSummary, MasterMessage } from '../../actors/master/protocol.js';
import type { ClusterOverview } from '../../actors/resourcemanager/protocol.js';

export interface ClientOptions {
  masterAddress: string;
  clusterId: string;
  secret: string;
  logger?: Logger;
  /** Timeout of each request to the Master. */
  requestTimeoutMs?: number;
}

export interface SubmitOptions {
  parallelism?: number;
  args?: Record<string, unknown>;
  name?: string;
}

export class ClusterClient {
  private constructor(
    private readonly system: ActorSystem,
    private readonly master: ActorRef<MasterMessage>,
    private readonly timeoutMs: number,
  ) {}

  static async connect(options: ClientOptions): Promise<ClusterClient> {
    const system = await ActorSystem.start({
      clusterId: options.clusterId,
      secret: options.secret,
      listen: false,
      name: 'client',
      ...(options.logger ? { logger: options.logger } : {}),
    });
    return new ClusterClient(system, system.ref<MasterMessage>(options.masterAddress, 'master'), options.requestTimeoutMs ?? 30_000);
  }

  /** Submit the job module at `file`; resolves with the job id once the Master accepted it. */
  async submitFile(file: string, options: SubmitOptions = {}): Promise<string> {
    const code = await readFile(file);
    return this.submit(code, { name: path.basename(file).replace(/\.[cm]?[jt]s$/, ''), ...options });
  }

  async submit(code: Uint8Array, options: SubmitOptions = {}): Promise<string> {
    const { jobId } = await this.master.ask(
      {
        type: 'master.job.submit',
        code,
        ...(options.name ? { name: options.name } : {}),
        ...(options.parallelism ? { parallelism: options.parallelism } : {}),
        ...(options.args ? { args: options.args } : {}),
      },
      { timeoutMs: this.timeoutMs },
    );
    return jobId;
  }

  list(): Promise<JobSummary[]> {
    return this.master.ask({ type: 'master.job.list' }, { timeoutMs: this.timeoutMs });
  }

  status(jobId: string): Promise<JobDetails> {
    return this.master.ask({ type: 'master.job.status', jobId }, { timeoutMs: this.timeoutMs });
  }

  /** The job's result, or null while it runs. */
  result(jobId: string): Promise<JobResult | null> {
    return this.master.ask({ type: 'master.job.result', jobId }, { timeoutMs: this.timeoutMs });
  }

  cancel(jobId: string): Promise<{ state: string }> {
    return this.master.ask({ type: 'master.job.cancel', jobId }, { timeoutMs: this.timeoutMs });
  }

  overview(): Promise<ClusterOverview> {
    return this.master.ask({ type: 'master.cluster.overview' }, { timeoutMs: this.timeoutMs });
  }

  /** Follow a job until it ends, reporting its details every `pollMs`. */
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

  close(): Promise<void> {
    return this.system.terminate();
  }
}
