/** Errors of a job, as its JobMaster reports them. */
import { RuntimeError } from '../../lib/errors.js';

export class JobMasterError extends RuntimeError {
  override name = 'JobMasterError';
  constructor(code: 'TASK_EXECUTOR_LOST' | 'SLOT_REQUEST_TIMEOUT' | 'CANCEL_TIMEOUT', message: string, details: Record<string, unknown> = {}) {
    super(code, message, { details });
  }
}

/** Codes of savepoint failures, as clients see them. */
export const SavepointErrorCode = {
  /** The savepoint did not complete (aborted, refused, or its leader was lost); the job runs on unless it says otherwise. */
  Failed: 'SAVEPOINT_FAILED',
  /** `--from-savepoint` names a directory that does not exist. */
  NotFound: 'SAVEPOINT_NOT_FOUND',
  /** `--from-savepoint` names a directory without `_metadata`: a savepoint that never completed. */
  Incomplete: 'SAVEPOINT_INCOMPLETE',
  /** `_metadata` exists but is not a savepoint's metadata. */
  Invalid: 'SAVEPOINT_INVALID',
} as const;
export type SavepointErrorCode = (typeof SavepointErrorCode)[keyof typeof SavepointErrorCode];

/** Codes of checkpoints that could not be stored. */
export const CheckpointErrorCode = {
  /** An incremental checkpoint refers to a file no retained checkpoint holds any more (see shared-files.ts); the next one bases on a newer checkpoint. */
  SharedFileReleased: 'CHECKPOINT_SHARED_FILE_RELEASED',
} as const;
export type CheckpointErrorCode = (typeof CheckpointErrorCode)[keyof typeof CheckpointErrorCode];
