/**
 * The removal of checkpoint files (an aborted checkpoint's directory), one at a time, as one
 * child actor that lives as long as the JobMaster: a restart does not end it (a removal asked
 * for by the attempt before still runs), the JobMaster's stop does (a removal not yet started
 * never starts; one in flight finishes, as a half-deleted directory helps nobody).
 *
 * Removal is best effort: what it could not delete is logged, and storage outside this job's
 * checkpoint directory is never touched.
 */
import { fromCallback, type ActorRef, type Snapshot } from 'xstate';
import { deleteBelow, deleteObjects, isWithinLocation, listBelow, normalizeLocation } from '../../lib/storage/index.js';
import type { Logger } from '../../lib/logging.js';

export interface FilesRemoval {
  type: 'files.remove';
  dir: string;
}

export type CheckpointFiles = ActorRef<Snapshot<unknown>, FilesRemoval>;

export interface CheckpointFilesInput {
  /** This job's part of checkpoint storage: nothing outside it is deleted. */
  jobDir: string;
  log: Logger;
}

export const checkpointFiles = fromCallback<FilesRemoval, CheckpointFilesInput>(({ input: { jobDir, log }, receive }) => {
  let stopped = false;
  let tail: Promise<void> = Promise.resolve();
  receive(({ dir }) => {
    tail = tail.then(() => (stopped ? undefined : removeFiles(jobDir, dir, log)));
  });
  return () => {
    stopped = true;
  };
});

/**
 * Delete a checkpoint's directory (its objects), except those in `keep` (files a retained
 * checkpoint still refers to). Never rejects: it logs what it could not delete.
 */
export async function removeFiles(jobDir: string, dir: string, log: Logger, keep: ReadonlySet<string> = new Set()): Promise<void> {
  try {
    // Only ever inside this job's checkpoint directory: a bad path in metadata must not delete elsewhere.
    if (!isWithinLocation(jobDir, dir) || normalizeLocation(dir) === normalizeLocation(jobDir)) return;
    const entries = keep.size === 0 ? [] : await listBelow(dir);
    const kept = entries.filter((location) => keep.has(location));
    if (kept.length === 0) {
      await deleteBelow(dir);
      return;
    }
    await deleteObjects(entries.filter((location) => !keep.has(location)));
  } catch (err) {
    log.warn({ err, dir }, 'could not delete checkpoint files');
  }
}
