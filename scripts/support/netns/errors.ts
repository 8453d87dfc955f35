/**
 * Errors of the namespace test hosts. Callers branch on `code`, never on message text.
 */
import { RuntimeError } from '../../../lib/errors.js';

export const NetnsErrorCode = {
  /** This machine cannot make namespace hosts: not root, or `ip` / `nft` missing or refused. */
  Unavailable: 'NETNS_UNAVAILABLE',
  /** An `ip` or `nft` command failed. */
  CommandFailed: 'NETNS_COMMAND_FAILED',
  /** A call that cannot be honoured as asked (a host of another run, a bad host count, a destroyed set). */
  InvalidUse: 'NETNS_INVALID_USE',
} as const;
export type NetnsErrorCode = (typeof NetnsErrorCode)[keyof typeof NetnsErrorCode];

export class NetnsUnavailableError extends RuntimeError {
  override name = 'NetnsUnavailableError';
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super(NetnsErrorCode.Unavailable, `network namespace test hosts unavailable: ${reason}`, { ...options, details: { reason } });
  }
}

export class NetnsCommandError extends RuntimeError {
  override name = 'NetnsCommandError';
  constructor(command: string, args: readonly string[], stderr: string, options: { cause?: unknown } = {}) {
    super(NetnsErrorCode.CommandFailed, `${command} ${args.join(' ')} failed: ${stderr.trim() || 'no output'}`, {
      ...options,
      details: { command, args: [...args], stderr },
    });
  }
}

export class NetnsInvalidUseError extends RuntimeError {
  override name = 'NetnsInvalidUseError';
  constructor(message: string) {
    super(NetnsErrorCode.InvalidUse, message);
  }
}
