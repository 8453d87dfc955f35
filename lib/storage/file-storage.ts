/**
 * Checkpoint storage in a directory (a local disk on one machine, or a filesystem every
 * TaskExecutor mounts): keys are relative paths below the root. Writes go through
 * lib/util/atomic-file.ts (temp file, fsync, rename, fsync of the directory); files are 0600
 * and directories 0700.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { writeFileAtomic, writeFileAtomicSync, writeStreamAtomic } from '../util/atomic-file.js';
import { StorageLocationError, StorageNotFoundError } from './errors.js';
import { METADATA_NAME, type CheckpointStorage } from './types.js';

export class FileStorage implements CheckpointStorage {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  get description(): string {
    return this.root;
  }

  /** The file of `key`; a key that would climb out of the root is refused. */
  fileOf(key: string): string {
    const file = path.resolve(this.root, key);
    const relative = path.relative(this.root, file);
    if (relative.startsWith(`..${path.sep}`) || relative === '..' || path.isAbsolute(relative)) throw new StorageLocationError(key, `lies outside ${this.root}`);
    return file;
  }

  async put(key: string, body: Uint8Array | Readable): Promise<void> {
    if (body instanceof Uint8Array) await writeFileAtomic(this.fileOf(key), body);
    else await writeStreamAtomic(this.fileOf(key), body);
  }

  /** The same write, synchronously (small snapshots of a busy task, see TaskCheckpointer). */
  putSync(key: string, bytes: Uint8Array): void {
    writeFileAtomicSync(this.fileOf(key), bytes);
  }

  async get(key: string): Promise<Readable> {
    const file = this.fileOf(key);
    await this.mustExist(file);
    return createReadStream(file);
  }

  async getBytes(key: string): Promise<Buffer> {
    const file = this.fileOf(key);
    try {
      return await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StorageNotFoundError(file, err);
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.fileOf(key))).isFile();
    } catch {
      return false;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const dir = this.fileOf(prefix);
    const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
      throw err;
    });
    // Temp files of writes in progress (atomic-file.ts) are not objects yet.
    return entries
      .filter((e) => e.isFile() && !e.name.endsWith('.tmp'))
      .map((e) => path.relative(this.root, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
  }

  async delete(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((key) => rm(this.fileOf(key), { force: true })));
  }

  async deletePrefix(prefix: string): Promise<number> {
    const count = (await this.list(prefix)).length;
    await rm(this.fileOf(prefix), { recursive: true, force: true });
    return count;
  }

  async complete(dir: string, metadata: Uint8Array | string): Promise<void> {
    await writeFileAtomic(this.fileOf(path.join(dir, METADATA_NAME)), metadata);
  }

  private async mustExist(file: string): Promise<void> {
    try {
      if ((await stat(file)).isFile()) return;
    } catch (err) {
      throw new StorageNotFoundError(file, err);
    }
    throw new StorageNotFoundError(file);
  }
}
