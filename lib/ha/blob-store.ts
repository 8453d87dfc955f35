/**
 * Large values that etcd must not hold (collected records of job results), as objects in
 * checkpoint storage (a directory or an S3 prefix, lib/storage), so that any Master reads them. etcd keeps only a reference (name, size, SHA-256), so
 * its values, and therefore every range read of a store, stay small. A blob is written
 * durably and atomically (lib/util/atomic-file.ts) before its reference is stored, so a
 * reference in etcd always names a complete file; reading checks size and hash, so a file
 * that was truncated or replaced is reported, never returned.
 */
import { createHash } from 'node:crypto';
import { baseNameOf, joinLocation, readObject, writeObject } from '../storage/index.js';
import { BlobUnavailableError } from './errors.js';

/** What etcd stores of a blob. */
export interface BlobRef {
  /** File name inside the blob directory (never a path: the directory may move). */
  name: string;
  bytes: number;
  sha256: string;
}

/**
 * @example
 * ```ts
 * const blobs = new FileBlobStore(path.join(checkpointDir, 'blobs'));
 * const ref = await blobs.put(`result-${jobId}`, bytes);
 * const same = await blobs.get(ref);
 * ```
 */
export class FileBlobStore {
  /** `dir`: a path or an s3:// location. */
  constructor(readonly dir: string) {}

  async put(name: string, bytes: Uint8Array): Promise<BlobRef> {
    if (!/^[\w.-]+$/.test(name)) throw new TypeError(`blob name ${JSON.stringify(name)} must be a plain file name`);
    await writeObject(joinLocation(this.dir, name), bytes);
    return { name, bytes: bytes.length, sha256: sha256(bytes) };
  }

  async get(ref: BlobRef): Promise<Buffer> {
    const file = joinLocation(this.dir, baseNameOf(ref.name));
    let bytes: Buffer;
    try {
      bytes = await readObject(file);
    } catch (err) {
      throw new BlobUnavailableError(file, 'cannot be read', { cause: err });
    }
    if (bytes.length !== ref.bytes) throw new BlobUnavailableError(file, `has ${bytes.length} bytes, ${ref.bytes} were written`);
    if (sha256(bytes) !== ref.sha256) throw new BlobUnavailableError(file, 'does not match the SHA-256 that was written');
    return bytes;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
