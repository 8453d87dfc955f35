/**
 * Errors of the drill. Callers branch on `code`, never on message text.
 */
import { RuntimeError } from '../../lib/errors.js';

export const DrillErrorCode = {
  /** The `--cluster` file is missing, not JSON, or does not describe a cluster (the message says where). */
  ClusterFileInvalid: 'DRILL_CLUSTER_FILE_INVALID',
  /** A fault kind this target cannot inject (e.g. etcd-kill through agents, a partition on one host). */
  FaultUnavailable: 'DRILL_FAULT_UNAVAILABLE',
  /** A process the cluster file lists (or the cluster names) that its host's agent does not find. */
  ProcessNotFound: 'DRILL_PROCESS_NOT_FOUND',
  /** At its end (or interrupted), the drill could not heal a cut or resume a paused process. */
  RestoreFailed: 'DRILL_RESTORE_FAILED',
} as const;
export type DrillErrorCode = (typeof DrillErrorCode)[keyof typeof DrillErrorCode];

export class ClusterFileError extends RuntimeError {
  override name = 'ClusterFileError';
  constructor(file: string, where: string, problem: string) {
    super(DrillErrorCode.ClusterFileInvalid, `cluster file ${file}: ${where ? `${where}: ` : ''}${problem}`, { details: { file, where } });
  }
}
