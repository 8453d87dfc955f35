/**
 * Checkpoint and savepoint storage: a flat namespace of keys ('/'-separated) below a root,
 * the same whether the root is a directory (file-storage.ts) or an S3 bucket (s3-storage.ts).
 *
 * Every `put` is atomic: a reader sees the whole object or none (a file is renamed into place,
 * an S3 object appears when its upload completes). A directory of a checkpoint or savepoint
 * is complete once its metadata object exists: `complete` writes it, and callers write it last.
 */
import type { Readable } from 'node:stream';

export const METADATA_NAME = '_metadata';

export interface CheckpointStorage {
  /** What this storage is, for messages: a directory or `s3://bucket`. Never carries credentials. */
  readonly description: string;
  /** Writes `key` atomically; a stream body is uploaded as it is read (multipart when large). */
  put(key: string, body: Uint8Array | Readable): Promise<void>;
  /** Streams `key`; StorageNotFoundError when it does not exist. */
  get(key: string): Promise<Readable>;
  /** The whole of `key` in memory. */
  getBytes(key: string): Promise<Buffer>;
  exists(key: string): Promise<boolean>;
  /** Keys below `prefix` (a directory: `prefix` ends before the '/'), in no particular order. */
  list(prefix: string): Promise<string[]>;
  /** Deletes the given keys (missing ones are no error). */
  delete(keys: readonly string[]): Promise<void>;
  /** Deletes everything below `prefix` (a directory); returns how many objects went. */
  deletePrefix(prefix: string): Promise<number>;
  /** Writes `<dir>/_metadata`: the directory is complete from the moment it exists. */
  complete(dir: string, metadata: Uint8Array | string): Promise<void>;
}

/** How S3 is reached: config keys `s3Endpoint`, `s3Region`, `s3PathStyle` (credentials: the SDK's chain). */
export interface S3Settings {
  /** e.g. http://127.0.0.1:9000 for MinIO; empty: AWS (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL). */
  readonly endpoint: string;
  /** Empty: AWS_REGION, else us-east-1 (what MinIO and s3-compatible stores accept). */
  readonly region: string;
  /** Path-style addressing (`endpoint/bucket/key`): MinIO, Ceph RGW and most self-hosted stores need it. */
  readonly pathStyle: boolean;
}
