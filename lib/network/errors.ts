/**
 * Errors of the data plane (buffers, channels, data connections). Each has a stable `code`
 * that travels on the wire; callers branch on the code, never on the text.
 */
import { RuntimeError } from '../errors.js';

export const NetworkErrorCode = {
  InvalidChannelId: 'INVALID_CHANNEL_ID',
  DataConnectionLost: 'DATA_CONNECTION_LOST',
  DataProtocolViolation: 'DATA_PROTOCOL_VIOLATION',
  CreditViolation: 'CREDIT_VIOLATION',
  UnknownChannel: 'UNKNOWN_CHANNEL',
} as const;
export type NetworkErrorCode = (typeof NetworkErrorCode)[keyof typeof NetworkErrorCode];

/** A channel id that does not have the `job|attempt|producer|p|consumer|c` shape. */
export class InvalidChannelIdError extends RuntimeError {
  override name = 'InvalidChannelIdError';
  constructor(channelId: string, problem: string) {
    super(NetworkErrorCode.InvalidChannelId, `invalid channel id '${channelId}': ${problem}`, { details: { channelId, problem } });
  }
}

/** The TCP data connection to another TaskExecutor closed while channels still used it. */
export class DataConnectionLostError extends RuntimeError {
  override name = 'DataConnectionLostError';
  constructor(peer: string, reason: string) {
    super(NetworkErrorCode.DataConnectionLost, `data connection to ${peer} lost: ${reason}`, { details: { peer, reason } });
  }
}

/** A data frame that cannot be decoded; the connection that carried it is closed. */
export class DataProtocolError extends RuntimeError {
  override name = 'DataProtocolError';
  constructor(problem: string) {
    super(NetworkErrorCode.DataProtocolViolation, `data protocol violation: ${problem}`, { details: { problem } });
  }
}

/** A producer received a buffer or sent one without credit: a bug, never tolerated silently. */
export class CreditViolationError extends RuntimeError {
  override name = 'CreditViolationError';
  constructor(channelId: string, problem: string) {
    super(NetworkErrorCode.CreditViolation, `credit violation on ${channelId}: ${problem}`, { details: { channelId, problem } });
  }
}

/** A buffer, credit or event named a channel that this task does not have. */
export class UnknownChannelError extends RuntimeError {
  override name = 'UnknownChannelError';
  constructor(channelId: string) {
    super(NetworkErrorCode.UnknownChannel, `no channel '${channelId}' in this task`, { details: { channelId } });
  }
}
