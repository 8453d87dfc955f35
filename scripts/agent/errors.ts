/**
 * Errors of `flinkish agent` and its client. The codes travel in the agent's `error` replies;
 * callers branch on the code, never on the text.
 */
import { RuntimeError } from '../../lib/errors.js';

export const AgentErrorCode = {
  /** A request whose `t` is none the agent serves. */
  UnknownRequest: 'AGENT_UNKNOWN_REQUEST',
  /** A known request with fields of the wrong shape (a signal not allowed, a bad pid, ...). */
  BadRequest: 'AGENT_BAD_REQUEST',
  /** The pid is not a flinkish process of this host (or no longer the one that was listed). */
  NotFlinkish: 'AGENT_NOT_FLINKISH',
  /** A partition peer that is not another host's IP address. */
  BadPeer: 'AGENT_BAD_PEER',
  /** The bound on installed partition rules is reached. */
  TooManyRules: 'AGENT_TOO_MANY_RULES',
  /** nftables refused a change. */
  FirewallFailed: 'AGENT_FIREWALL_FAILED',
  /** Too many requests in flight on one connection. */
  Busy: 'AGENT_BUSY',
  /** The agent cannot run here (not root, no nft). */
  Unavailable: 'AGENT_UNAVAILABLE',
  /** Client side: the connection to the agent closed before the reply. */
  ConnectionClosed: 'AGENT_CONNECTION_CLOSED',
  /** Client side: no reply (or no handshake) within the deadline. */
  Timeout: 'AGENT_TIMEOUT',
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

export class AgentError extends RuntimeError {
  override name = 'AgentError';
}
