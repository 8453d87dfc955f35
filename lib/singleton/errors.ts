/**
 * Errors of HA singletons. Codes are stable and travel on the wire; callers branch on
 * `code`, never on message text.
 */
import { RuntimeError } from '../errors.js';

export const SingletonErrorCode = {
  /** No host took the message in time (handover longer than `handoverTimeoutMs`), or the buffer is full. */
  Unavailable: 'SINGLETON_UNAVAILABLE',
  /**
   * The node asked does not host the singleton under that fencing token (any more, or not
   * yet). Proxies retry on it; it reaches a caller only through a hand-made ref to a gate.
   */
  NotHost: 'SINGLETON_NOT_HOST',
  /** The manager was used after `close()`. */
  Closed: 'SINGLETON_CLOSED',
} as const;
export type SingletonErrorCode = (typeof SingletonErrorCode)[keyof typeof SingletonErrorCode];

export class SingletonUnavailableError extends RuntimeError {
  override name = 'SingletonUnavailableError';
  constructor(singleton: string, reason: 'handover-timeout' | 'buffer-full' | 'closed', waitedMs: number) {
    const why =
      reason === 'handover-timeout'
        ? `no host took it within the handover timeout (${waitedMs} ms)`
        : reason === 'buffer-full'
          ? 'the handover buffer is full'
          : 'the singleton manager closed';
    super(SingletonErrorCode.Unavailable, `singleton '${singleton}' is unavailable: ${why}`, {
      details: { singleton, reason, waitedMs },
    });
  }
}

export class SingletonNotHostError extends RuntimeError {
  override name = 'SingletonNotHostError';
  constructor(singleton: string, token: string, node: string) {
    super(SingletonErrorCode.NotHost, `node ${node} does not host singleton '${singleton}' under token ${token}`, {
      details: { singleton, token, node },
    });
  }
}

export class SingletonClosedError extends RuntimeError {
  override name = 'SingletonClosedError';
  constructor(group: string) {
    super(SingletonErrorCode.Closed, `singleton manager of group '${group}' is closed`, { details: { group } });
  }
}
