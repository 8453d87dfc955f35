/**
 * Errors of the REST API. Every error answers `{ error: { code, message } }` with an HTTP
 * status; the code is stable (clients branch on it), the message is for people.
 */
import { ErrorCode, RuntimeError } from '../errors.js';
import { MasterErrorCode } from '../../actors/master/errors.js';
import { SavepointErrorCode } from '../../actors/jobmaster/errors.js';

export const RestErrorCode = {
  NotFound: 'NOT_FOUND',
  UnknownJob: MasterErrorCode.UnknownJob,
  BadRequest: 'BAD_REQUEST',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  Unauthorized: 'UNAUTHORIZED',
  MutationsDisabled: 'MUTATIONS_DISABLED',
  MethodNotAllowed: 'METHOD_NOT_ALLOWED',
  NotLeader: MasterErrorCode.NotLeader,
  NoLeader: 'NO_LEADER',
  Recovering: MasterErrorCode.Recovering,
  MasterTimeout: 'MASTER_TIMEOUT',
  Internal: 'INTERNAL',
  /** The Host header names no name of this server (DNS rebinding). */
  HostNotAllowed: 'HOST_NOT_ALLOWED',
} as const;
export type RestErrorCode = (typeof RestErrorCode)[keyof typeof RestErrorCode];

export class HttpError extends Error {
  override name = 'HttpError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra top-level fields of the answer (e.g. `leader` on a standby). */
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }

  /** The JSON body: `{ error: { code, message }, ...extra }`. */
  body(): Record<string, unknown> {
    return { error: { code: this.code, message: this.message }, ...this.extra };
  }
}

/** Statuses for the codes the Master answers with; anything unknown is a 500. */
const STATUS_OF: Record<string, number> = {
  [MasterErrorCode.UnknownJob]: 404,
  [ErrorCode.PathOutsideRoots]: 403,
  // The job is not in a state to do it: ended, restarting, or checkpointing off.
  [MasterErrorCode.JobEnded]: 409,
  [SavepointErrorCode.Failed]: 409,
  [MasterErrorCode.NotLeader]: 503,
  [MasterErrorCode.Recovering]: 503,
  [ErrorCode.InvalidArgument]: 400,
  [ErrorCode.AskTimeout]: 504,
  [ErrorCode.PeerUnreachable]: 502,
  [ErrorCode.DeadLetter]: 503,
  [ErrorCode.SystemTerminated]: 503,
};

/** An error from the Master (a RuntimeError with a wire code) as an HTTP error. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof RuntimeError) {
    const status = STATUS_OF[err.code] ?? 500;
    const code = err.code === ErrorCode.AskTimeout ? RestErrorCode.MasterTimeout : err.code;
    // RECOVERING is brief: a new leader is loading its jobs; clients retry.
    const headers: Record<string, string> = err.code === RestErrorCode.Recovering ? { 'retry-after': '1' } : {};
    return new HttpError(status, code, err.message, {}, headers, { cause: err });
  }
  return new HttpError(500, RestErrorCode.Internal, 'internal error', {}, {}, { cause: err });
}

export const notFound = (what: string) => new HttpError(404, RestErrorCode.NotFound, what);
export const badRequest = (what: string) => new HttpError(400, RestErrorCode.BadRequest, what);
