/**
 * Savepoints that will not complete, told to their requesters, as one child actor of the
 * JobMaster. Each is first marked failed in etcd and its directory deleted
 * (`failSavepointRecord`), and only then is its requester told: a new leader then agrees with
 * what the client heard. If the savepoint's record was still being written when it was given
 * up, that write is waited for first, so the record cannot land `in-progress` after its failure.
 *
 * The answer belongs to the requester, not to the JobMaster: a failure handed over here runs to
 * its end even if the JobMaster stops meanwhile (the job ended, which stops its children at
 * once). That end is bounded: `failSavepointRecord` retries a few times, and the stores' calls
 * have their own timeouts.
 */
import { fromCallback, type ActorRef, type Snapshot } from 'xstate';
import { replyError } from '../../lib/index.js';
import { RuntimeError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logging.js';
import type { Context } from './context.js';
import { SavepointErrorCode } from './errors.js';
import type { SavepointRequest } from './protocol.js';
import { failSavepointRecord } from './savepoints.js';

export interface SavepointFailure {
  type: 'savepoint.fail';
  context: Context;
  request: SavepointRequest;
  /** Why, as the record says. */
  reason: string;
  /** What the requester is told. */
  message: string;
  /** Its record's `in-progress` write, if that was under way when the savepoint was given up. */
  recording?: Promise<SavepointRequest> | undefined;
}

export type SavepointFailures = ActorRef<Snapshot<unknown>, SavepointFailure>;

export const savepointFailures = fromCallback<SavepointFailure, { log: Logger }>(({ input: { log }, receive }) => {
  receive((failure) => {
    fail(failure).catch((err: unknown) => log.error({ err }, 'failing a savepoint failed'));
  });
  // Nothing to cancel on stop: see above.
});

async function fail({ context, request, reason, message, recording }: SavepointFailure): Promise<void> {
  // A record write that failed left no record this JobMaster knows of (a new leader fails what is left in progress).
  const recorded = recording ? await recording.catch(() => request) : request;
  await failSavepointRecord(context, recorded, reason);
  replyError(request.replyTo, new RuntimeError(SavepointErrorCode.Failed, message));
}
