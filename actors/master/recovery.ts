/**
 * What a new leader reads back, and what a leader writes when a job ends. A job whose result
 * is stored is never run again; a job whose graph is stored without a result is restarted.
 */
import { FileBlobStore } from '../../lib/ha/blob-store.js';
import { joinLocation } from '../../lib/storage/index.js';
import { decodeValue, packBlob } from '../../lib/ha/codec.js';
import { HaValueTooLargeError } from '../../lib/ha/errors.js';
import type { JobExecution, JobResult as StoredResult } from '../../lib/ha/types.js';
import type { JobResult } from '../jobmaster/status.js';
import type { LeaderStores, StoredJob } from './ha.js';

/** A job to run again, with the last attempt a leader before recorded for it (if any). */
export type RecoveredJob = StoredJob & { execution?: JobExecution };

export interface Recovered {
  jobs: RecoveredJob[];
  results: JobResult[];
}

export async function recoverJobs(stores: LeaderStores | null): Promise<Recovered> {
  if (!stores) return { jobs: [], results: [] };
  const results = (await stores.jobResults.list()) as unknown as JobResult[];
  const ended = new Set(results.map((r) => r.jobId));
  const jobs: RecoveredJob[] = [];
  for (const jobId of await stores.jobGraphs.list()) {
    if (ended.has(jobId)) {
      // The leader before wrote the result but not yet the removal.
      await stores.jobGraphs.remove(jobId);
      continue;
    }
    const job = (await stores.jobGraphs.get(jobId)) as StoredJob | undefined;
    if (job) jobs.push({ ...job, code: new Uint8Array(job.code), ...(await recordedExecution(stores, jobId)) });
  }
  return { jobs, results };
}

/** The attempt and restart count a leader before deployed last: this leader continues after them. */
async function recordedExecution(stores: LeaderStores, jobId: string): Promise<{ execution?: JobExecution }> {
  const execution = await stores.jobGraphs.getExecution(jobId);
  return execution ? { execution } : {};
}

/** Collected records of ended jobs, one file per job, beside checkpoint storage. */
export function resultBlobStore(checkpointDir: string): FileBlobStore {
  return new FileBlobStore(joinLocation(checkpointDir, 'results'));
}

/**
 * Result first, then the graph's removal: a crash in between leaves a result, never a rerun.
 * The collected records go to a blob before that: the result in etcd names a complete file.
 */
export async function persistResult(stores: LeaderStores, blobs: FileBlobStore, result: JobResult): Promise<void> {
  const stored = await storedResultOf(blobs, result);
  try {
    await stores.jobResults.put(stored as unknown as StoredResult);
  } catch (err) {
    if (!(err instanceof HaValueTooLargeError)) throw err;
    // Details of a very wide job (or one that failed often: its exception history) can be large;
    // the result itself must be kept, with the failure that ended it.
    const details = { ...stored.details, subtasks: [], checkpoints: [], exceptions: stored.details.exceptions?.slice(-1) ?? [] };
    await stores.jobResults.put({ ...stored, details } as unknown as StoredResult);
  }
  await stores.jobGraphs.remove(result.jobId);
}

/** The result as etcd keeps it: small, with its collected records in a blob referenced by size and hash. */
async function storedResultOf(blobs: FileBlobStore, result: JobResult): Promise<JobResult> {
  const { collectedRef: _, ...rest } = result;
  if (result.collected.length === 0) return { ...rest, collected: [] };
  const collectedRef = await blobs.put(`${result.jobId}.collected`, packBlob(result.collected));
  return { ...rest, collected: [], collectedRef };
}

/** The result with its collected records, read from their blob if a leader before stored them there. */
export async function withCollected(blobs: FileBlobStore, result: JobResult): Promise<JobResult> {
  const { collectedRef, ...rest } = result;
  if (!collectedRef) return result;
  return { ...rest, collected: decodeValue<unknown[]>(await blobs.get(collectedRef)) };
}
