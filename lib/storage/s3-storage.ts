/**
 * Checkpoint storage in an S3-compatible object store (AWS S3, MinIO, Ceph RGW, R2): keys are
 * object keys below the bucket. Only the plain S3 REST API is used (Put/Get/Head/List/Delete
 * and multipart uploads), so any compatible store serves.
 *
 * A body in memory (a snapshot) of up to SINGLE_PUT_MAX_BYTES is one PutObject, as MinIO's own
 * client does up to its 64 MiB part size: one request instead of three rounds (create, parts,
 * complete), and a store that assembles parts by copying them (s3rver does; the bench measured it
 * at ~2.5 times the server's CPU of a single PUT for 50 MB objects) handles the bytes once. Larger
 * bodies and streams go through lib-storage's Upload, a multipart upload of PART_BYTES parts,
 * several in flight. Either way the object appears whole when the request or upload completes. Credentials come from the AWS SDK's default chain
 * (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity, instance roles); they
 * never pass through our code or logs.
 */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { StorageFailedError, StorageNotFoundError } from './errors.js';
import { METADATA_NAME, type CheckpointStorage, type S3Settings } from './types.js';

/** Multipart part size (S3's minimum is 5 MiB). */
export const PART_BYTES = 8 * 1024 * 1024;
/** A body in memory up to this size is uploaded with one PutObject (S3 takes up to 5 GiB so). */
export const SINGLE_PUT_MAX_BYTES = 64 * 1024 * 1024;
const PARTS_IN_FLIGHT = 4;
const CONNECT_TIMEOUT_MS = 5000;
/** A socket that moves no byte for this long is given up (an upload of a part keeps it busy). */
const IDLE_TIMEOUT_MS = 20_000;
/** DeleteObjects takes at most this many keys. */
const DELETE_BATCH = 1000;

/** `credentials`: for an embedder that holds its own; by default the SDK's chain finds them. */
export function createS3Client(settings: S3Settings, credentials?: S3ClientConfig['credentials']): S3Client {
  // The SDK warns, unstructured on stderr, that its releases after January 2027 need Node 22:
  // ours is pinned to one that supports Node 20 (package.json), so the warning is noise in
  // every process's log. An operator who sets the variable keeps their choice.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  return new S3Client({
    region: settings.region || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1',
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.pathStyle,
    // Checksums only where the API requires them: S3-compatible stores differ in which of the
    // newer flexible checksums they accept; every one accepts the classic request.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 5,
    // A link that drops silently (a partition) must fail the request, not hang it for TCP's
    // minutes: the SDK's retries and withBackoff (index.ts) then take over.
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: IDLE_TIMEOUT_MS },
    ...(credentials ? { credentials } : {}),
  });
}

export class S3Storage implements CheckpointStorage {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    /** Bodies in memory up to this size are one PutObject; larger ones, and streams, multipart. */
    private readonly singlePutMaxBytes = SINGLE_PUT_MAX_BYTES,
  ) {}

  get description(): string {
    return `s3://${this.bucket}`;
  }

  private where(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  async put(key: string, body: Uint8Array | Readable): Promise<void> {
    try {
      if (body instanceof Uint8Array && body.length <= this.singlePutMaxBytes) {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: body.length }));
        return;
      }
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key: key, Body: body },
        partSize: PART_BYTES,
        queueSize: PARTS_IN_FLIGHT,
        leavePartsOnError: false, // an aborted multipart upload leaves no parts behind
      });
      await upload.done();
    } catch (err) {
      throw new StorageFailedError('uploading', this.where(key), err, isRetryable(err));
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const body = answer.Body;
      if (body instanceof Readable) return body;
      if (body === undefined) return Readable.from([]);
      return Readable.from(Buffer.from(await body.transformToByteArray()));
    } catch (err) {
      if (isNotFound(err)) throw new StorageNotFoundError(this.where(key), err);
      throw new StorageFailedError('downloading', this.where(key), err, isRetryable(err));
    }
  }

  async getBytes(key: string): Promise<Buffer> {
    const stream = await this.get(key);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of stream) chunks.push(chunk as Buffer);
    } catch (err) {
      throw new StorageFailedError('downloading', this.where(key), err, isRetryable(err));
    }
    return Buffer.concat(chunks);
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw new StorageFailedError('checking', this.where(key), err, isRetryable(err));
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const Prefix = prefix === '' ? '' : `${prefix.replace(/\/+$/, '')}/`;
    let ContinuationToken: string | undefined;
    try {
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ...(ContinuationToken ? { ContinuationToken } : {}) }));
        for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
    } catch (err) {
      throw new StorageFailedError('listing', this.where(Prefix), err, isRetryable(err));
    }
    return keys;
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let at = 0; at < keys.length; at += DELETE_BATCH) {
      const batch = keys.slice(at, at + DELETE_BATCH);
      try {
        const answer = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        );
        const failed = (answer.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length > 0) throw new Error(`${failed.length} objects not deleted, first ${failed[0]!.Key}: ${failed[0]!.Code} ${failed[0]!.Message ?? ''}`);
      } catch (err) {
        throw new StorageFailedError('deleting', this.where(batch[0] ?? ''), err, isRetryable(err));
      }
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    const keys = await this.list(prefix);
    await this.delete(keys);
    return keys.length;
  }

  async complete(dir: string, metadata: Uint8Array | string): Promise<void> {
    await this.put(`${dir.replace(/\/+$/, '')}/${METADATA_NAME}`, typeof metadata === 'string' ? Buffer.from(metadata) : metadata);
  }
}

/** A 4xx answer (but a timeout or throttling) will not change on retry; errors without an answer (network) may. */
function isRetryable(err: unknown): boolean {
  const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
  return status === undefined || status >= 500 || status === 408 || status === 429;
}

function isNotFound(err: unknown): boolean {
  if (err instanceof S3ServiceException) return err.$metadata.httpStatusCode === 404 || err.name === 'NoSuchKey' || err.name === 'NotFound';
  return false;
}
