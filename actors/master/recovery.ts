/**
 * What a new leader reads back, and what a leader writes when a job ends. A job whose result
 * is stored is never run again; a job whose graph is stored without a result is restarted.
 */
import { HaValueTooLargeError } from '../../lib/ha/errors.js';
import type { JobResult as StoredResult } from '../../lib/ha/types.js';
import type { JobResult } from '../jobmaster/status.js';
import type { LeaderStores, StoredJob } from './ha.js';

export interface Recovered {
  jobs: StoredJob[];
  results: JobResult[];
}

export async function recoverJobs(stores: LeaderStores | null): Promise<Recovered> {
  if (!stores) return { jobs: [], results: [] };
  const results = (await stores.jobResults.list()) as unknown as JobResult[];
  const ended = new Set(results.map((r) => r.jobId));
  const jobs: StoredJob[] = [];
  for (const jobId of await stores.jobGraphs.list()) {
    if (ended.has(jobId)) {
      // The leader before wrote the result but not yet the removal.
      await stores.jobGraphs.remove(jobId);
      continue;
    }
    const job = (await stores.jobGraphs.get(jobId)) as StoredJob | undefined;
    if (job) jobs.push({ ...job, code: new Uint8Array(job.code) });
  }
  return { jobs, results };
}

/** Result first, then the graph's removal: a crash in between leaves a result, never a rerun. */
export async function persistResult(stores: LeaderStores, result: JobResult): Promise<void> {
  try {
    await stores.jobResults.put(result as unknown as StoredResult);
  } catch (err) {
    if (!(err instanceof HaValueTooLargeError)) throw err;
    // Collected records can be large; the result itself must be kept.
    await stores.jobResults.put({ ...result, collected: [], collectedDropped: result.collected.length } as unknown as StoredResult);
  }
  await stores.jobGraphs.remove(result.jobId);
}
