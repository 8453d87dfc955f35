/**
 * Where a job (re)starts from: the latest completed checkpoint in the store (a restart, or a
 * job recovered by a new leader), a savepoint (given at submission), or nothing.
 */
import { RuntimeError } from '../../lib/errors.js';
import { SavepointErrorCode } from './errors.js';
import { completeDirectory, directoryExists, joinLocation, METADATA_NAME, readObject, StorageErrorCode } from '../../lib/storage/index.js';
import type { CompletedCheckpointStore } from '../../lib/ha/types.js';
import type { TaskRestore } from '../../lib/task/descriptor.js';
import type { CompletedCheckpoint } from './checkpoint-coordinator.js';

export const SAVEPOINT_METADATA = METADATA_NAME;

export type RestorePoint = CompletedCheckpoint | null;

export async function loadRestorePoint(options: {
  jobId: string;
  store: CompletedCheckpointStore | null;
  fromSavepoint: string | null;
  /** False for the first run of a newly submitted job: it starts fresh (or from its savepoint). */
  fromLatest: boolean;
}): Promise<RestorePoint> {
  if (options.fromLatest && options.store) {
    const latest = (await options.store.latest(options.jobId)) as CompletedCheckpoint | undefined;
    if (latest) return latest;
  }
  if (options.fromSavepoint) return readSavepoint(options.fromSavepoint);
  return null;
}

/**
 * A completed savepoint's metadata. Checked at submission too, so that `--from-savepoint` on
 * a savepoint that never completed (a directory of state files without `_metadata`, left by
 * a lost leader) is refused at once with SAVEPOINT_INCOMPLETE, not when the job deploys.
 * `dir` is a path or an s3:// location.
 */
export async function readSavepoint(dir: string): Promise<CompletedCheckpoint> {
  const file = joinLocation(dir, SAVEPOINT_METADATA);
  let text: string;
  try {
    text = (await readObject(file)).toString('utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === StorageErrorCode.NotFound && (await directoryExists(dir).catch(() => false))) {
      throw new RuntimeError(
        SavepointErrorCode.Incomplete,
        `${dir} is not a completed savepoint: it has no ${SAVEPOINT_METADATA} (its savepoint was interrupted); resume from a completed one (flinkish savepoints JOB lists them)`,
        { details: { dir } },
      );
    }
    throw new RuntimeError(SavepointErrorCode.NotFound, `no savepoint at ${dir}: cannot read ${file} (${(err as Error).message})`, { details: { dir } });
  }
  let metadata: CompletedCheckpoint;
  try {
    metadata = JSON.parse(text) as CompletedCheckpoint;
  } catch {
    throw new RuntimeError(SavepointErrorCode.Invalid, `${file} is not a savepoint's metadata (not JSON)`, { details: { dir } });
  }
  if (!Array.isArray(metadata?.handles)) throw new RuntimeError(SavepointErrorCode.Invalid, `${file} is not a savepoint's metadata`, { details: { dir } });
  return metadata;
}

/**
 * A savepoint carries its own metadata, so that it outlives the job and its etcd entries.
 * Written after every state object: the savepoint is complete once `_metadata` exists.
 */
export async function writeSavepointMetadata(metadata: CompletedCheckpoint): Promise<void> {
  await completeDirectory(metadata.dir, JSON.stringify(metadata, null, 2));
}

/** What subtask `index` of `vertexId` restores: every handle of its vertex (it keeps its key groups). */
export function restoreFor(point: RestorePoint, vertexId: string): TaskRestore | undefined {
  if (!point) return undefined;
  const handles = point.handles.filter((h) => h.vertexId === vertexId);
  return handles.length > 0 ? { checkpointId: point.checkpointId, handles, ...(point.savepoint ? { savepoint: true } : {}) } : undefined;
}
