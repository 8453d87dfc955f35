/**
 * Snapshots as files, one per key, for state above etcd's value limit. A write goes to a
 * temp file in the same directory, is fsynced, then renamed over the old one, so a reader
 * (or a crash) sees the old snapshot or the new one, never half of one.
 *
 * Fencing is local only: with a fence, the guard is checked just before the rename, which
 * stops a writer that knows its term is over but not one paused between check and rename.
 * Use the etcd store where two writers must never overlap; use this one for large state
 * on a directory that only one host writes to at a time.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { decodeValue, encodeValue } from '../ha/codec.js';
import type { SnapshotFence, SnapshotStore } from './types.js';

export interface FileSnapshotStoreOptions {
  /** Directory of the snapshot files; created if missing. */
  dir: string;
}

/**
 * @example
 * ```ts
 * const store = new FileSnapshotStore({ dir: '/var/lib/my-service/snapshots' });
 * const persistence = await ActorPersistence.restore(machine, { store, key: 'index', everyEvents: 100 });
 * ```
 */
export class FileSnapshotStore implements SnapshotStore {
  private readonly dir: string;

  constructor(options: FileSnapshotStoreOptions) {
    this.dir = options.dir;
  }

  async load(key: string): Promise<unknown | undefined> {
    try {
      return decodeValue(await readFile(this.fileOf(key)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async save(key: string, snapshot: unknown, fence?: SnapshotFence): Promise<void> {
    const bytes = encodeValue(key, snapshot, Number.POSITIVE_INFINITY);
    await writeFileAtomic(this.fileOf(key), bytes, { beforeRename: () => fence?.guard.check() });
  }

  async remove(key: string, fence?: SnapshotFence): Promise<void> {
    fence?.guard.check();
    await rm(this.fileOf(key), { force: true });
  }

  private fileOf(key: string): string {
    return path.join(this.dir, `${encodeURIComponent(key)}.snapshot`);
  }
}
