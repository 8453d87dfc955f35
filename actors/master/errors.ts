/**
 * Errors of the Master's evaluation of submitted job modules (job-sandbox.ts). Each fails one
 * submission with a code the client can branch on and a message that names the user's file,
 * what went wrong and what to do; the Master itself is unaffected.
 */
import { RuntimeError } from '../../lib/errors.js';

/** Codes the Master answers requests with; REST and the client import them from here. */
export const MasterErrorCode = {
  /** This Master is a standby: ask the leader. */
  NotLeader: 'NOT_LEADER',
  /** The new leader is loading its jobs: retry shortly. */
  Recovering: 'RECOVERING',
  UnknownJob: 'UNKNOWN_JOB',
  /** A TaskExecutor asked for job code this Master does not hold. */
  UnknownCode: 'UNKNOWN_CODE',
  /** The job has ended: it takes no savepoint. */
  JobEnded: 'JOB_ENDED',
  /** The job's JobMaster stopped without reporting a result (its machine failed). */
  JobMasterFailed: 'JOB_MASTER_FAILED',
  CheckpointingNeedsHa: 'CHECKPOINTING_NEEDS_HA',
} as const;
export type MasterErrorCode = (typeof MasterErrorCode)[keyof typeof MasterErrorCode];

export const JobBuildErrorCode = {
  /** The module is larger than the Master accepts; refused before it is stored or evaluated. */
  ModuleTooLarge: 'JOB_MODULE_TOO_LARGE',
  /** The module ended its build thread (`process.exit`, or an await that never settles). */
  ModuleExited: 'JOB_MODULE_EXITED',
  /** Importing the module and building its dataflow took longer than `jobBuildTimeoutMs`. */
  BuildTimeout: 'JOB_BUILD_TIMEOUT',
  /** The build used more heap than `jobBuildMemoryMb`, or grew the process by as much again off the heap. */
  BuildOutOfMemory: 'JOB_BUILD_OUT_OF_MEMORY',
  /** Another module is being built and the waiting room is full: submit again shortly. */
  BuildBusy: 'JOB_BUILD_BUSY',
  /** The module's default export threw while building the dataflow. */
  BuildFailed: 'JOB_BUILD_FAILED',
  /** The build was cancelled: this Master stopped leading while it ran (clients resubmit to the new leader). */
  BuildCancelled: MasterErrorCode.NotLeader,
} as const;
export type JobBuildErrorCode = (typeof JobBuildErrorCode)[keyof typeof JobBuildErrorCode];

export class JobBuildError extends RuntimeError {
  override name = 'JobBuildError';
  constructor(code: JobBuildErrorCode, message: string, details: Record<string, unknown>, cause?: unknown) {
    super(code, message, { details, cause });
  }
}
