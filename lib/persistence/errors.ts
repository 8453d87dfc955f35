/**
 * Errors of actor-state persistence. Codes are stable and travel on the wire; callers
 * branch on `code`, never on message text.
 */
import { RuntimeError } from '../errors.js';

export const PersistenceErrorCode = {
  /** A snapshot is larger than the store accepts (etcd: about 1 MiB per value). */
  SnapshotTooLarge: 'SNAPSHOT_TOO_LARGE',
  /** The persistence was used after `close()`. */
  Closed: 'PERSISTENCE_CLOSED',
} as const;
export type PersistenceErrorCode = (typeof PersistenceErrorCode)[keyof typeof PersistenceErrorCode];

/** Raised by the etcd store; the remedy is a store without etcd's value limit. */
export class SnapshotTooLargeError extends RuntimeError {
  override name = 'SnapshotTooLargeError';
  constructor(key: string, bytes: number, limitBytes: number, options: { cause?: unknown } = {}) {
    super(
      PersistenceErrorCode.SnapshotTooLarge,
      `snapshot '${key}' is ${bytes} bytes, above the etcd snapshot store's limit of ${limitBytes} bytes; ` +
        `keep this actor's state in a FileSnapshotStore instead (persistence: { store: new FileSnapshotStore({ dir }) })`,
      { ...options, details: { key, bytes, limitBytes } },
    );
  }
}

export class PersistenceClosedError extends RuntimeError {
  override name = 'PersistenceClosedError';
  constructor(key: string) {
    super(PersistenceErrorCode.Closed, `persistence of '${key}' is closed`, { details: { key } });
  }
}
