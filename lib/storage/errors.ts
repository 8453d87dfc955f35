/** Errors of checkpoint and savepoint storage (codes travel on the wire, see lib/errors.ts). */
import { RuntimeError } from '../errors.js';

export const StorageErrorCode = {
  /** A checkpointDir, savepointDir or savepoint target that is neither a path nor a supported URL. */
  BadLocation: 'STORAGE_BAD_LOCATION',
  /** The object or file does not exist. */
  NotFound: 'STORAGE_NOT_FOUND',
  /** The store refused or failed an operation (after the client's own retries). */
  Failed: 'STORAGE_FAILED',
} as const;
export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

export class StorageLocationError extends RuntimeError {
  override name = 'StorageLocationError';
  constructor(location: string, problem: string) {
    super(StorageErrorCode.BadLocation, `storage location '${location}' ${problem}; use an absolute path, file:///dir or s3://bucket/prefix`, { details: { location } });
  }
}

export class StorageNotFoundError extends RuntimeError {
  override name = 'StorageNotFoundError';
  constructor(location: string, cause?: unknown) {
    super(StorageErrorCode.NotFound, `${location} does not exist`, { cause, details: { location } });
  }
}

export class StorageFailedError extends RuntimeError {
  override name = 'StorageFailedError';
  /** False when the store refused the request as such (a missing bucket, denied access): a retry gets the same answer. */
  readonly retryable: boolean;
  constructor(operation: string, location: string, cause: unknown, retryable = true) {
    super(StorageErrorCode.Failed, `${operation} ${location} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause, details: { operation, location, retryable } });
    this.retryable = retryable;
  }
}
