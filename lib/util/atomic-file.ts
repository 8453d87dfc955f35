/**
 * Durable, atomic file writes: a temp file in the same directory, written and fsynced, then
 * renamed over the target, then the directory fsynced. A reader sees the old file or the new
 * one, never a torn one, and a crash after the rename cannot lose it.
 *
 * Files are created 0600 and missing directories 0700: job code, snapshots and savepoints are
 * readable by the cluster's user only.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface AtomicWriteOptions {
  /** Runs after the data is durable and just before the rename (e.g. a fencing check); a throw aborts. */
  beforeRename?: () => void;
}

export async function writeFileAtomic(file: string, bytes: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    options.beforeRename?.();
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncDirectory(dir);
}

/** The same, for a body that is streamed from `source` (never held in memory whole). */
export async function writeStreamAtomic(file: string, source: Readable): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await pipeline(source, createWriteStream(temp, { mode: 0o600 }));
    const handle = await open(temp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncDirectory(dir);
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await handle.close();
  }
}

/**
 * The same write, synchronously: for small files written by a thread whose event loop may be
 * busy (a task whose source blocks between records), where each of the nine asynchronous
 * steps above would wait for the loop to come round.
 */
export function writeFileAtomicSync(file: string, bytes: Uint8Array): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = openSync(temp, 'w', 0o600);
    try {
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } catch {
    // As above: the rename is atomic even where a directory cannot be fsynced.
  } finally {
    closeSync(fd);
  }
}
