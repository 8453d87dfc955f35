/** Errors of a job, as its JobMaster reports them. */
import { RuntimeError } from '../../lib/errors.js';

export class JobMasterError extends RuntimeError {
  override name = 'JobMasterError';
  constructor(code: 'TASK_EXECUTOR_LOST' | 'SLOT_REQUEST_TIMEOUT' | 'CANCEL_TIMEOUT', message: string, details: Record<string, unknown> = {}) {
    super(code, message, { details });
  }
}
