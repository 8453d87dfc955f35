/**
 * Errors of the ResourceManager: a registration it refuses fails the TaskExecutor's ask with
 * one of these codes, and nothing of the registration is kept.
 */
import { RuntimeError } from '../../lib/errors.js';

export const ResourceManagerErrorCode = {
  /**
   * The data address sent at registration is not `host:port` with a dialable host (a wildcard
   * such as 0.0.0.0 names no one): peers could not reach its data plane. Set the TaskExecutor's
   * advertisedHost.
   */
  InvalidDataAddress: 'RM_INVALID_DATA_ADDRESS',
} as const;
export type ResourceManagerErrorCode = (typeof ResourceManagerErrorCode)[keyof typeof ResourceManagerErrorCode];

export class RegistrationRefusedError extends RuntimeError {
  override name = 'RegistrationRefusedError';
  constructor(code: ResourceManagerErrorCode, message: string, details: Record<string, unknown>) {
    super(code, message, { details });
  }
}
