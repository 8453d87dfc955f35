/**
 * Where a job (re)starts from: the latest completed checkpoint in the store (a restart, or a
 * job recovered by a new leader), a savepoint (given at submission), or nothing.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError } from '../../lib/errors.js';
import { writeFileAtomic } from '../../lib/util/atomic-file.js';
import type { CompletedCheckpointStore } from '../../lib/ha/types.js';
import type { TaskRestore } from '../../lib/task/descriptor.js';
import type { CompletedCheckpoint } from './checkpoint-coordinator.js';

export const SAVEPOINT_METADATA = '_metadata';

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

export async function readSavepoint(dir: string): Promise<CompletedCheckpoint> {
  const file = path.join(dir, SAVEPOINT_METADATA);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new RuntimeError('SAVEPOINT_NOT_FOUND', `no savepoint at ${dir}: cannot read ${file} (${(err as Error).message})`);
  }
  const metadata = JSON.parse(text) as CompletedCheckpoint;
  if (!Array.isArray(metadata.handles)) throw new RuntimeError('SAVEPOINT_INVALID', `${file} is not a savepoint's metadata`);
  return metadata;
}

/** A savepoint carries its own metadata, so that it outlives the job and its etcd entries. */
export async function writeSavepointMetadata(metadata: CompletedCheckpoint): Promise<void> {
  await writeFileAtomic(path.join(metadata.dir, SAVEPOINT_METADATA), JSON.stringify(metadata, null, 2));
}

/** What subtask `index` of `vertexId` restores: every handle of its vertex (it keeps its key groups). */
export function restoreFor(point: RestorePoint, vertexId: string): TaskRestore | undefined {
  if (!point) return undefined;
  const handles = point.handles.filter((h) => h.vertexId === vertexId);
  return handles.length > 0 ? { checkpointId: point.checkpointId, handles } : undefined;
}
