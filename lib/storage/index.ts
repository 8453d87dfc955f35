/**
 * Checkpoint and savepoint storage selected by location (location.ts): a path or file:// URL
 * is a FileStorage, an s3:// URL an S3Storage of its bucket. Each process configures S3 once
 * from its ClusterConfig (`configureStorage`); a task's worker thread gets the same settings
 * in its workerData. Clients are made once per process and reused.
 *
 * Callers work with locations (`/dir/chk-3/v-0.state`, `s3://bucket/ckpt/job/chk-3/v-0.state`):
 * `locate` splits one into its storage and key. The AWS SDK is loaded on the first s3://
 * location only: a task's worker on file:// storage does not pay for it (~150 ms, 8 MB).
 */
import { StorageFailedError } from './errors.js';
import type { S3Client } from '@aws-sdk/client-s3';
import { stat } from 'node:fs/promises';
import { FileStorage } from './file-storage.js';
import { parseLocation } from './location.js';
import type { CheckpointStorage, S3Settings } from './types.js';

export * from './errors.js';
export * from './location.js';
export { FileStorage } from './file-storage.js';
export { METADATA_NAME, type CheckpointStorage, type S3Settings } from './types.js';

let settings: S3Settings = { endpoint: '', region: '', pathStyle: false };
let client: S3Client | null = null;
const fileRoot = new FileStorage('/');

/** Sets how this process reaches S3 (from config keys s3Endpoint, s3Region, s3PathStyle). */
export function configureStorage(next: S3Settings): void {
  if (next.endpoint === settings.endpoint && next.region === settings.region && next.pathStyle === settings.pathStyle) return;
  client?.destroy();
  client = null;
  settings = { ...next };
}

/** What configureStorage set: handed to worker threads (no credentials in it). */
export function storageSettings(): S3Settings {
  return settings;
}

/** The storage and key of `location`. */
export async function locate(location: string): Promise<{ storage: CheckpointStorage; key: string }> {
  const parsed = parseLocation(location);
  if (parsed.kind === 'file') return { storage: fileRoot, key: parsed.path.slice(1) };
  const { createS3Client, S3Storage } = await import('./s3-storage.js');
  client ??= createS3Client(settings);
  return { storage: new S3Storage(client, parsed.bucket), key: parsed.key };
}

/**
 * Loads what the storage of `location` needs, ahead of its first use: for s3://, the AWS SDK and
 * the client, ~150 ms of a busy thread that would otherwise be spent inside the first checkpoint
 * (the bench measured it there). Never fails: a problem shows at the first real use.
 */
export function prepareStorage(location: string): void {
  let kind: string;
  try {
    kind = parseLocation(location).kind;
  } catch {
    return; // a bad location is reported where it is used
  }
  if (kind !== 'file') void locate(location).catch(() => undefined);
  // The retry policy too, so that the first snapshot does not wait for it to load.
  void loadBackoff();
}

/** The FileStorage of a file location (for synchronous writes), or null for an object store. */
export function fileStorageOf(location: string): { storage: FileStorage; key: string } | null {
  const parsed = parseLocation(location);
  return parsed.kind === 'file' ? { storage: fileRoot, key: parsed.path.slice(1) } : null;
}

export async function writeObject(location: string, bytes: Uint8Array): Promise<void> {
  const { storage, key } = await locate(location);
  await storage.put(key, bytes);
}

export async function readObject(location: string): Promise<Buffer> {
  const { storage, key } = await locate(location);
  return storage.getBytes(key);
}

export async function objectExists(location: string): Promise<boolean> {
  const { storage, key } = await locate(location);
  return storage.exists(key);
}

/** Locations of every object below `dir`. */
export async function listBelow(dir: string): Promise<string[]> {
  const { storage, key } = await locate(dir);
  const keys = await storage.list(key);
  const parsed = parseLocation(dir);
  return parsed.kind === 'file' ? keys.map((k) => `/${k}`) : keys.map((k) => `s3://${parsed.bucket}/${k}`);
}

export async function deleteBelow(dir: string): Promise<number> {
  const { storage, key } = await locate(dir);
  return storage.deletePrefix(key);
}

/** Deletes objects, all of one storage (a checkpoint's directory). */
export async function deleteObjects(locations: readonly string[]): Promise<void> {
  if (locations.length === 0) return;
  const { storage } = await locate(locations[0]!);
  const keys = await Promise.all(locations.map(async (l) => (await locate(l)).key));
  await storage.delete(keys);
}

/** Streams `from` into `to` (either kind of storage; multipart to S3 when large). */
export async function copyObject(from: string, to: string): Promise<void> {
  const source = await locate(from);
  const target = await locate(to);
  await target.storage.put(target.key, await source.storage.get(source.key));
}

/** A directory that exists, or a prefix with at least one object (an object store has no empty directories). */
export async function directoryExists(dir: string): Promise<boolean> {
  const file = fileStorageOf(dir);
  if (file !== null) {
    try {
      return (await stat(file.storage.fileOf(file.key))).isDirectory();
    } catch {
      return false;
    }
  }
  return (await listBelow(dir)).length > 0;
}

/** Writes `<dir>/_metadata`, last: the directory is complete once it exists. */
export async function completeDirectory(dir: string, metadata: Uint8Array | string): Promise<void> {
  const { storage, key } = await locate(dir);
  await storage.complete(key, metadata);
}

/** The retry library, loaded once on first need (see withBackoff). */
let backoff: Promise<typeof import('cockatiel')> | null = null;
function loadBackoff(): Promise<typeof import('cockatiel')> {
  return (backoff ??= import('cockatiel'));
}

/**
 * Retries `work` with exponential backoff (jittered, on top of the S3 client's own retries) when the
 * object store failed: a snapshot upload outlives a store that restarts or a link that drops
 * for a few seconds. File errors (a full disk, a missing permission), missing objects and
 * requests the store refused as such (no bucket, access denied) are not retried: they do not
 * heal in seconds.
 */
export async function withBackoff<T>(work: () => Promise<T>, attempts = 4): Promise<T> {
  // Loaded on first use: importing cockatiel costs 100-300 ms, and every task's worker thread
  // loads this module before its task can run, most of them never writing a snapshot.
  const { ExponentialBackoff, handleWhen, retry } = await loadBackoff();
  const policy = retry(handleWhen((err) => err instanceof StorageFailedError && err.retryable), { maxAttempts: attempts - 1, backoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 5000 }) });
  return policy.execute(work);
}
