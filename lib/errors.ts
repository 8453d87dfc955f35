/**
 * Errors of the runtime. Every error has a stable `code` that travels on the wire, so that
 * callers branch on codes, never on message text.
 */

export const ErrorCode = {
  AskTimeout: 'ASK_TIMEOUT',
  DeadLetter: 'DEAD_LETTER',
  PeerUnreachable: 'PEER_UNREACHABLE',
  SendQueueFull: 'SEND_QUEUE_FULL',
  /** The bound on pending asks (in total or to one peer) is reached. */
  TooManyPendingAsks: 'TOO_MANY_PENDING_ASKS',
  HandshakeRefused: 'HANDSHAKE_REFUSED',
  ProtocolViolation: 'PROTOCOL_VIOLATION',
  FrameTooLarge: 'FRAME_TOO_LARGE',
  /** A frame that would decode to more than the decode budget (checked before decoding). */
  FrameTooComplex: 'FRAME_TOO_COMPLEX',
  ActorNameTaken: 'ACTOR_NAME_TAKEN',
  ActorFailed: 'ACTOR_FAILED',
  SystemTerminated: 'SYSTEM_TERMINATED',
  InvalidConfig: 'INVALID_CONFIG',
  InvalidArgument: 'INVALID_ARGUMENT',
  RemoteFailure: 'REMOTE_FAILURE',
  /** A path given by a client (e.g. a savepoint target) lies outside the configured roots. */
  PathOutsideRoots: 'PATH_OUTSIDE_ROOTS',
  /** The actor's current state accepts no message of that type (an actor spawned with `reportUnhandled`). */
  UnhandledInState: 'UNHANDLED_IN_STATE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of the runtime's errors: a `code` (wire-stable) and optional structured details. */
export class RuntimeError extends Error {
  override name = 'RuntimeError';
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

export class AskTimeoutError extends RuntimeError {
  override name = 'AskTimeoutError';
  constructor(target: string, messageType: string, timeoutMs: number) {
    super(ErrorCode.AskTimeout, `ask to ${target} (${messageType}) got no reply within ${timeoutMs} ms`, {
      details: { target, messageType, timeoutMs },
    });
  }
}

export class DeadLetterError extends RuntimeError {
  override name = 'DeadLetterError';
  constructor(target: string, messageType: string) {
    super(ErrorCode.DeadLetter, `no actor ${target} to receive ${messageType}`, { details: { target, messageType } });
  }
}

export class UnhandledInStateError extends RuntimeError {
  override name = 'UnhandledInStateError';
  constructor(actor: string, state: string, messageType: string) {
    super(ErrorCode.UnhandledInState, `actor ${actor} does not accept ${messageType} in state ${state}`, { details: { actor, state, messageType } });
  }
}

export class PeerUnreachableError extends RuntimeError {
  override name = 'PeerUnreachableError';
  constructor(node: string, reason: string) {
    super(ErrorCode.PeerUnreachable, `node ${node} is unreachable: ${reason}`, { details: { node, reason } });
  }
}

export class SendQueueFullError extends RuntimeError {
  override name = 'SendQueueFullError';
  constructor(node: string, queuedBytes: number, limitBytes: number) {
    super(ErrorCode.SendQueueFull, `send queue to ${node} is full (${queuedBytes} of ${limitBytes} bytes queued)`, {
      details: { node, queuedBytes, limitBytes },
    });
  }
}

export class ConfigError extends RuntimeError {
  override name = 'ConfigError';
  constructor(key: string, problem: string) {
    super(ErrorCode.InvalidConfig, `invalid configuration '${key}': ${problem}`, { details: { key } });
  }
}

/** An error as it travels on the wire. */
export interface WireError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof RuntimeError) return { code: err.code, message: err.message, details: { ...err.details } };
  if (err instanceof Error) return { code: ErrorCode.RemoteFailure, message: err.message };
  return { code: ErrorCode.RemoteFailure, message: String(err) };
}

export function fromWireError(wire: WireError): RuntimeError {
  return new RuntimeError(wire.code, wire.message, { details: wire.details ?? {} });
}
