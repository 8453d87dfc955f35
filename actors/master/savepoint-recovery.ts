/**
 * What a new leader settles after reading back the jobs (recovery.ts), before it serves:
 *
 * - a savepoint still `in-progress` belonged to the lost leader, whose client was told nothing
 *   but an error: it is marked failed and its directory (state files, no `_metadata`) deleted;
 * - a job with a stop intent took a completed stop-with-savepoint whose client was (or is
 *   about to be) told so: it is not resumed but ended `finished` with that savepoint. Its
 *   TaskExecutors cancelled its tasks when the leader changed; the result is stored first,
 *   then the graph removed (persistResult), then its claims released: every crash in between
 *   leaves a state that the next leader settles the same way;
 * - sink claims of jobs that are not recovered (ended, or never stored) are released.
 */
import type { FileBlobStore } from '../../lib/ha/blob-store.js';
import { deleteBelow } from '../../lib/storage/index.js';
import { SavepointState, type StopIntent } from '../../lib/ha/etcd-savepoints.js';
import type { Logger } from '../../lib/logging.js';
import type { Clock } from '../../lib/util/clock.js';
import { resultWithoutReport, vertexStatusOf, type JobResult } from '../jobmaster/status.js';
import type { LeaderStores, StoredJob } from './ha.js';
import { persistResult, type Recovered } from './recovery.js';
import { releaseEndedJob } from './sink-ownership.js';

export const INTERRUPTED_BY_LEADER_LOSS = 'interrupted: the leading Master that took it was lost';

export async function settleSavepointsAndStops(stores: LeaderStores, blobs: FileBlobStore, recovered: Recovered, log: Logger, clock: Clock): Promise<Recovered> {
  const now = clock.now();
  for (const record of await stores.savepoints.listAll()) {
    if (record.state !== SavepointState.InProgress) continue;
    await stores.savepoints.fail(record, INTERRUPTED_BY_LEADER_LOSS, now);
    // A store that is down must not keep the leader from serving: the savepoint is failed in
    // etcd and has no `_metadata`, so nobody resumes from what is left.
    await deleteBelow(record.path).catch((err: unknown) => log.warn({ err, path: record.path }, 'could not delete the objects of an interrupted savepoint'));
    log.warn({ jobId: record.jobId, checkpointId: record.checkpointId, path: record.path }, 'savepoint interrupted by the leader loss: failed and deleted');
  }
  const jobs: StoredJob[] = [];
  const results = [...recovered.results];
  for (const job of recovered.jobs) {
    const intent = await stores.savepoints.stopIntent(job.jobId);
    if (!intent) {
      jobs.push(job);
      continue;
    }
    const result = stoppedResult(job, intent, now);
    await persistResult(stores, blobs, result);
    await releaseEndedJob(stores, job.jobId);
    results.push(result);
    log.info({ jobId: job.jobId, savepoint: intent.savepointPath }, 'job had stopped with a savepoint: ended instead of resumed');
  }
  const live = new Set(jobs.map((j) => j.jobId));
  for (const owner of new Set((await stores.sinkClaims.list()).map((c) => c.jobId))) {
    if (!live.has(owner)) await stores.sinkClaims.release(owner);
  }
  for (const intent of await stores.savepoints.stopIntents()) {
    if (!live.has(intent.jobId)) await stores.savepoints.removeStopIntent(intent.jobId);
  }
  return { jobs, results };
}

/** The result of a job whose stop-with-savepoint completed under an earlier leader. */
export function stoppedResult(job: StoredJob, intent: StopIntent, now: number): JobResult {
  return resultWithoutReport(job, { state: 'finished', endedAt: now, vertices: vertexStatusOf(job.jobGraph), stoppedWithSavepoint: intent.savepointPath });
}
