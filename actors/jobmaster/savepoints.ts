/**
 * A savepoint's record in etcd, as the JobMaster keeps it (protocol in lib/ha/etcd-savepoints.ts):
 * `in-progress` before its barriers, `completed` (with the stop intent of `--stop`) before
 * the client hears of it, `failed` with its directory deleted when it does not complete.
 */
import { deleteBelow, joinLocation } from '../../lib/storage/index.js';
import { SavepointState, type SavepointRecord } from '../../lib/ha/etcd-savepoints.js';
import { HaUnavailableError } from '../../lib/ha/errors.js';
import type { Context } from './context.js';
import type { SavepointRequest } from './protocol.js';
import { sleep } from '../../lib/util/clock.js';

const FAIL_ATTEMPTS = 5;
const FAIL_RETRY_MS = 500;

/** Where savepoint `checkpointId` of this job goes. */
export function savepointPathOf(context: Context, request: SavepointRequest, checkpointId: number): string {
  return joinLocation(request.dir, `savepoint-${context.job.jobId.slice(0, 8)}-${checkpointId}`);
}

/** Step 1 of a savepoint: its record, before any barrier, so that its directory is never unaccounted for. */
export async function beginSavepointRecord(context: Context, request: SavepointRequest, checkpointId: number): Promise<SavepointRequest> {
  const record: SavepointRecord = {
    jobId: context.job.jobId,
    checkpointId,
    path: savepointPathOf(context, request, checkpointId),
    stop: request.stop,
    requestId: request.requestId,
    state: SavepointState.InProgress,
    triggeredAt: context.env.clock.now(),
    endedAt: null,
  };
  await context.stores!.savepoints.begin(record);
  return { ...request, record };
}

/** Its `_metadata` is written: completed (and the stop intent) in etcd, in one transaction. */
export async function completeSavepointRecord(context: Context, request: SavepointRequest): Promise<void> {
  if (!request.record) return;
  request.record = await context.stores!.savepoints.complete(request.record, context.env.clock.now());
}

/**
 * It will not complete: failed in etcd (its stop intent, if any, removed) and its directory
 * (or objects) deleted, so that nobody resumes from half a savepoint. Errors are logged: a new leader fails
 * what is left in progress, and the directory has no `_metadata` a submission would accept.
 */
export async function failSavepointRecord(context: Context, request: SavepointRequest, reason: string): Promise<void> {
  const record = request.record;
  if (!record) return;
  // Retried while etcd is unreachable: a `completed` record (and stop intent) whose write
  // outcome was unknown must not outlive the failure the client is told of.
  for (let attempt = 1; ; attempt++) {
    try {
      await context.stores!.savepoints.fail(record, reason, context.env.clock.now());
      break;
    } catch (err) {
      if (!(err instanceof HaUnavailableError) || attempt >= FAIL_ATTEMPTS) {
        context.env.log.warn({ err, checkpointId: record.checkpointId }, 'could not mark the savepoint failed in etcd');
        break;
      }
      await sleep(context.env.clock, FAIL_RETRY_MS);
    }
  }
  await deleteBelow(record.path).catch((err: unknown) =>
    context.env.log.warn({ err, dir: record.path }, 'could not delete the files of a failed savepoint'),
  );
}
