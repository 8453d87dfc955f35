/**
 * The REST server's way to the Master: asks through the actor system, exactly as a remote
 * client would, so that it never reaches into actor state.
 */
import type { ActorRef } from '../actor/ref.js';
import type { JobDetails } from '../../actors/jobmaster/status.js';
import type { JobSummary, MasterMessage } from '../../actors/master/protocol.js';
import type { ClusterOverview } from '../../actors/resourcemanager/protocol.js';
import type { SavepointRecord } from '../ha/etcd-savepoints.js';

const TERMINAL = new Set(['finished', 'failed', 'canceled']);

export class MasterGateway {
  constructor(
    private readonly master: ActorRef<MasterMessage>,
    private readonly timeoutMs = 5000,
  ) {}

  list(): Promise<JobSummary[]> {
    return this.master.ask({ type: 'master.job.list' }, { timeoutMs: this.timeoutMs });
  }

  status(jobId: string): Promise<JobDetails> {
    return this.master.ask({ type: 'master.job.status', jobId }, { timeoutMs: this.timeoutMs });
  }

  overview(): Promise<ClusterOverview> {
    return this.master.ask({ type: 'master.cluster.overview' }, { timeoutMs: this.timeoutMs });
  }

  cancel(jobId: string): Promise<{ state: string }> {
    return this.master.ask({ type: 'master.job.cancel', jobId }, { timeoutMs: this.timeoutMs });
  }

  /** Resolves once the savepoint is written (a checkpoint round of the whole job: minutes at worst). */
  savepoint(jobId: string, options: { dir?: string; stop: boolean }, timeoutMs = 10 * 60_000): Promise<{ path: string }> {
    return this.master.ask({ type: 'master.job.savepoint', jobId, stop: options.stop, ...(options.dir ? { dir: options.dir } : {}) }, { timeoutMs });
  }

  /** The job's savepoints as etcd records them. */
  savepoints(jobId: string): Promise<SavepointRecord[]> {
    return this.master.ask({ type: 'master.job.savepoints', jobId }, { timeoutMs: this.timeoutMs });
  }

  /**
   * Every job with its current state. The list knows only "running" for a job that has not
   * ended, so the details of those (few) jobs are asked for; ended ones come from the list.
   */
  async jobs(): Promise<{ summaries: JobSummary[]; details: Map<string, JobDetails> }> {
    const summaries = await this.list();
    const details = new Map<string, JobDetails>();
    await Promise.all(
      summaries
        .filter((s) => !TERMINAL.has(s.state))
        .map(async (s) => {
          try {
            details.set(s.jobId, await this.status(s.jobId));
          } catch {
            // It may have ended between the two asks; its summary still stands.
          }
        }),
    );
    return { summaries: summaries.map((s) => ({ ...s, state: details.get(s.jobId)?.state ?? s.state })), details };
  }
}
