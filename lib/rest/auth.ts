/** Bearer-token check for the mutating endpoints, in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError, RestErrorCode } from './errors.js';

/**
 * Throws 401 without the right `Authorization: Bearer <token>`, and 403 when no token is
 * configured: mutations are then off, whatever the request carries.
 */
export function requireToken(req: IncomingMessage, token: string): void {
  if (token === '') {
    throw new HttpError(403, RestErrorCode.MutationsDisabled, 'mutating endpoints are off: set restToken (FLINKISH_REST_TOKEN) on the Master');
  }
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  // Hashing first gives equal lengths, so that the comparison's time reveals nothing.
  if (!match || !timingSafeEqual(digest(match[1]!), digest(token))) {
    throw new HttpError(401, RestErrorCode.Unauthorized, 'missing or wrong bearer token', {}, { 'www-authenticate': 'Bearer realm="flinkish"' });
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
