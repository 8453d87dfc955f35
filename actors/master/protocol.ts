/** The messages the Master accepts: from clients, from its JobMasters, from leader election. */
import type { ActorRef, WatchNotice } from '../../lib/index.js';
import type { ClusterOverview } from '../resourcemanager/protocol.js';
import type { JobDetails, JobResult, JobState } from '../jobmaster/status.js';
import type { SavepointRecord } from '../../lib/ha/etcd-savepoints.js';
import type { StoredJob } from './ha.js';
import type { JobExecution } from '../../lib/ha/types.js';

export interface JobSummary {
  jobId: string;
  name: string;
  state: JobState;
  submittedAt: number;
  endedAt: number | null;
  /** Set when the job ended by a stop-with-savepoint. */
  stoppedWithSavepoint?: string;
}

export interface SubmitJob {
  /** The job module's source (an ES module whose default export builds the dataflow). */
  code: Uint8Array;
  /** The file the client read the module from: messages about the module name it. */
  fileName?: string;
  name?: string;
  /** Default parallelism for operators that set none. */
  parallelism?: number;
  args?: Record<string, unknown>;
  /** Start from this savepoint (its directory). */
  fromSavepoint?: string;
}

export type MasterMessage =
  | ({ type: 'master.job.submit'; replyTo: ActorRef<{ jobId: string }> } & SubmitJob)
  | { type: 'master.job.list'; replyTo: ActorRef<JobSummary[]> }
  | { type: 'master.job.status'; jobId: string; replyTo: ActorRef<JobDetails> }
  | { type: 'master.job.result'; jobId: string; replyTo: ActorRef<JobResult | null> }
  | { type: 'master.job.cancel'; jobId: string; replyTo: ActorRef<{ state: string }> }
  /** `requestId`: the client's id of the request, by which it finds the outcome after a leader change. */
  | { type: 'master.job.savepoint'; jobId: string; dir?: string; stop: boolean; requestId?: string; replyTo: ActorRef<{ path: string }> }
  /** The job's savepoints as etcd records them (in progress, completed, failed). */
  | { type: 'master.job.savepoints'; jobId: string; replyTo: ActorRef<SavepointRecord[]> }
  | { type: 'master.code.get'; hash: string; replyTo: ActorRef<Uint8Array> }
  | { type: 'master.cluster.overview'; replyTo: ActorRef<ClusterOverview> }
  /** End of an application cluster: every TaskExecutor is told to exit. */
  | { type: 'master.cluster.shutdown'; replyTo: ActorRef<{ taskExecutors: number }> }
  | { type: 'master.job.ended'; leaderSessionId: string; result: JobResult }
  /** Internal: an ended job's result is in etcd; from now on clients get it. */
  | { type: 'master.job.persisted'; leaderSessionId: string; jobId: string }
  /** Internal: a submission whose module has been loaded, checked and stored. */
  | { type: 'master.job.prepared'; jobId: string; prepared: PreparedJob }
  | { type: 'master.leadership.granted'; sessionId: string }
  | { type: 'master.leadership.revoked' }
  | { type: 'master.stop' }
  | WatchNotice;

/**
 * The client protocol: the only messages a connection authenticated with the client secret may
 * deliver to the Master (lib/actor/client-gate.ts refuses the rest). Everything else in
 * MasterMessage comes from nodes (`master.code.get`, `master.job.ended`) or from the process
 * itself (leadership, stop, shutdown).
 */
export const CLIENT_MESSAGE_TYPES = [
  'master.job.submit',
  'master.job.list',
  'master.job.status',
  'master.job.result',
  'master.job.cancel',
  'master.job.savepoint',
  'master.job.savepoints',
  'master.cluster.overview',
] as const satisfies ReadonlyArray<MasterMessage['type']>;

/**
 * Events only the Master's own process generates (leader election, process shutdown, its own
 * preparation steps). The actor system refuses them from the network whatever their content:
 * a forged `revoked` would leave the cluster without a leader, a forged `granted` a standby serving.
 */
export const MASTER_LOCAL_EVENTS = [
  'master.leadership.granted',
  'master.leadership.revoked',
  'master.stop',
  'master.job.prepared',
  'master.job.persisted',
] as const satisfies ReadonlyArray<MasterMessage['type']>;

/** A job whose module loaded and whose graph is valid, ready for a JobMaster. */
export interface PreparedJob extends StoredJob {
  /** The client to answer once the JobMaster runs; null for a job recovered by a new leader. */
  replyTo: ActorRef<{ jobId: string }> | null;
  /** A recovered job resumes from its latest completed checkpoint. */
  recovered: boolean;
  /** A recovered job's last recorded attempt: its JobMaster continues after it. */
  execution?: JobExecution;
}
