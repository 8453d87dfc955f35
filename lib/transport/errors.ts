/**
 * Errors of the transport's handshake and of connection roles. The codes travel in `refuse`
 * frames and in the errors that senders get; callers branch on the code, never on the text.
 */
import { RuntimeError } from '../errors.js';

/** Why a handshake was refused (the `code` of a `refuse` frame). */
export const HandshakeCode = {
  BadHello: 'BAD_HELLO',
  BadHandshake: 'BAD_HANDSHAKE',
  VersionMismatch: 'VERSION_MISMATCH',
  ClusterMismatch: 'CLUSTER_MISMATCH',
  PlaneMismatch: 'PLANE_MISMATCH',
  /** The dialer asked for a role (e.g. `client`) that this endpoint does not serve. */
  RoleRefused: 'ROLE_REFUSED',
  SelfConnect: 'SELF_CONNECT',
  WrongNode: 'WRONG_NODE',
  /** A MAC did not verify: the two sides do not share the secret of the claimed role. */
  AuthFailed: 'AUTH_FAILED',
  HandshakeTimeout: 'HANDSHAKE_TIMEOUT',
} as const;
export type HandshakeCode = (typeof HandshakeCode)[keyof typeof HandshakeCode];

/** Refusals that a retry cannot fix: the dialer fails its sends at once instead of reconnecting. */
export const PERMANENT_REFUSALS: ReadonlySet<string> = new Set([
  HandshakeCode.AuthFailed,
  HandshakeCode.ClusterMismatch,
  HandshakeCode.VersionMismatch,
  HandshakeCode.PlaneMismatch,
  HandshakeCode.RoleRefused,
]);

export const TransportErrorCode = {
  AuthFailed: HandshakeCode.AuthFailed,
  /** A message that a client connection may not deliver. */
  ClientForbidden: 'CLIENT_FORBIDDEN',
} as const;

/**
 * The peer refused our credentials (or failed to prove its own): the secret does not match.
 * Not retried: a wrong secret stays wrong.
 */
export class AuthFailedError extends RuntimeError {
  override name = 'AuthFailedError';
  constructor(node: string, cluster: string, role: string, refusal: string) {
    const secret = role === 'client' ? 'client secret (clientSecret, FLINKISH_CLIENT_SECRET)' : 'node secret (secret, FLINKISH_SECRET)';
    super(
      HandshakeCode.AuthFailed,
      `authentication with ${node} of cluster '${cluster}' failed: the ${secret} does not match the cluster's (${refusal})`,
      { details: { node, cluster, role, refusal } },
    );
  }
}

/** A permanent handshake refusal other than authentication (cluster id, version, plane, role). */
export class HandshakeRefusedError extends RuntimeError {
  override name = 'HandshakeRefusedError';
  constructor(node: string, cluster: string, code: string, reason: string) {
    super(code, `${node} refused the connection for cluster '${cluster}': ${reason}`, { details: { node, cluster, reason } });
  }
}

/** A client connection sent something other than the client protocol. */
export class ClientForbiddenError extends RuntimeError {
  override name = 'ClientForbiddenError';
  constructor(target: string, messageType: string) {
    super(TransportErrorCode.ClientForbidden, `a client may not send ${messageType} to ${target}`, { details: { target, messageType } });
  }
}
