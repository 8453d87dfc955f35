/**
 * Errors of the HA services. Codes are stable and travel on the wire; callers branch on
 * `code`, never on message text.
 */
import { RuntimeError } from '../errors.js';

export const HaErrorCode = {
  /** A guarded write was refused: this process is (or may be) no longer the leader. */
  LeadershipLost: 'LEADERSHIP_LOST',
  /** A command carried an older leader session than the receiver accepted last (a zombie leader): refused. */
  StaleLeader: 'STALE_LEADER',
  /** etcd did not answer in time, or has no quorum; the outcome of a write may be unknown. */
  Unavailable: 'HA_UNAVAILABLE',
  /** A value is larger than the HA store accepts (etcd limits requests to about 1.5 MiB). */
  ValueTooLarge: 'HA_VALUE_TOO_LARGE',
  /** The service was used after `close()`. */
  Closed: 'HA_CLOSED',
  /** The etcd process could not be started or did not become healthy. */
  EtcdStartFailed: 'ETCD_START_FAILED',
  /** A sink directory is claimed by another job that has not ended. */
  SinkDirOwned: 'SINK_DIR_OWNED',
  /** A blob that etcd references (e.g. a job's collected records) is missing or damaged on disk. */
  BlobUnavailable: 'BLOB_UNAVAILABLE',
} as const;
export type HaErrorCode = (typeof HaErrorCode)[keyof typeof HaErrorCode];

/**
 * A write made as leader was rejected because leadership could not be proven: either etcd
 * refused the transaction (the leader key is gone or belongs to a newer term), or the
 * local lease-renewal clock says the lease may already have expired on the server.
 */
export class FencingError extends RuntimeError {
  override name = 'FencingError';
  readonly sessionId: string;
  constructor(sessionId: string, reason: 'rejected-by-etcd' | 'lease-unconfirmed' | 'not-leader', options: { cause?: unknown } = {}) {
    super(HaErrorCode.LeadershipLost, `write as leader (session ${sessionId}) refused: ${reason}`, {
      ...options,
      details: { sessionId, reason },
    });
    this.sessionId = sessionId;
  }
}

export class HaUnavailableError extends RuntimeError {
  override name = 'HaUnavailableError';
  constructor(operation: string, cause: unknown) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(HaErrorCode.Unavailable, `etcd ${operation} failed: ${why}`, { cause, details: { operation } });
  }
}

export class HaValueTooLargeError extends RuntimeError {
  override name = 'HaValueTooLargeError';
  constructor(key: string, bytes: number, limitBytes: number) {
    super(HaErrorCode.ValueTooLarge, `value for ${key} is ${bytes} bytes, above the HA store limit of ${limitBytes}`, {
      details: { key, bytes, limitBytes },
    });
  }
}

export class HaClosedError extends RuntimeError {
  override name = 'HaClosedError';
  constructor(what: string) {
    super(HaErrorCode.Closed, `${what} is closed`, { details: { what } });
  }
}

export class EtcdStartError extends RuntimeError {
  override name = 'EtcdStartError';
  constructor(member: string, reason: string, options: { cause?: unknown } = {}) {
    super(HaErrorCode.EtcdStartFailed, `etcd member ${member}: ${reason}`, { ...options, details: { member } });
  }
}

/** A job's transactional sink targets a directory that another, still live, job owns. */
export class SinkDirOwnedError extends RuntimeError {
  override name = 'SinkDirOwnedError';
  constructor(dir: string, owner: string) {
    super(
      HaErrorCode.SinkDirOwned,
      `sink directory ${dir} belongs to job ${owner}, which has not ended: cancel or stop it first, or write to another directory`,
      { details: { dir, owner } },
    );
  }
}

/** A blob that etcd references is missing or damaged on disk. */
export class BlobUnavailableError extends RuntimeError {
  override name = 'BlobUnavailableError';
  constructor(file: string, reason: string, options: { cause?: unknown } = {}) {
    super(HaErrorCode.BlobUnavailable, `blob ${file} ${reason}; it is referenced from etcd but cannot be served`, {
      ...options,
      details: { file },
    });
  }
}
