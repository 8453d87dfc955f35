/**
 * Paths that clients choose (a savepoint's target directory) are confined to configured roots:
 * the path must be absolute, is normalized with `path.resolve` (so `..` segments cannot climb
 * out), and must then be a root or lie below one. Symbolic links inside a root are trusted:
 * the roots belong to the cluster's user. A storage URL (s3://bucket/prefix, file:///dir) is
 * confined the same way: it must lie below a root of the same bucket (lib/storage/location.ts).
 */
import path from 'node:path';
import { ErrorCode, RuntimeError } from '../errors.js';
import { isUrlLocation, isWithinLocation, normalizeLocation } from '../storage/location.js';

export class PathOutsideRootsError extends RuntimeError {
  override name = 'PathOutsideRootsError';
  constructor(what: string, given: string, roots: readonly string[]) {
    super(ErrorCode.PathOutsideRoots, `${what} '${given}' is outside the allowed directories (${roots.join(', ') || 'none'}); choose a directory inside one, or add a root to the configuration`, {
      details: { what, given, roots: [...roots] },
    });
  }
}

/** `given` normalized, if it is absolute and inside one of `roots`; else a PathOutsideRootsError. */
export function resolveWithinRoots(what: string, given: string, roots: readonly string[]): string {
  if (isUrlLocation(given)) {
    let location: string;
    try {
      location = normalizeLocation(given);
    } catch {
      throw new PathOutsideRootsError(what, given, roots);
    }
    if (!isUrlLocation(location)) return resolveWithinRoots(what, location, roots); // a file:// URL is a path
    if (roots.some((root) => isWithinLocation(root, location))) return location;
    throw new PathOutsideRootsError(what, given, roots);
  }
  const resolvedRoots = roots.filter((r) => !isUrlLocation(r)).map((r) => path.resolve(r));
  if (!path.isAbsolute(given) || given.includes('\0')) throw new PathOutsideRootsError(what, given, resolvedRoots);
  const resolved = path.resolve(given);
  for (const root of resolvedRoots) {
    const relative = path.relative(root, resolved);
    const escapes = relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
    if (!escapes) return resolved;
  }
  throw new PathOutsideRootsError(what, given, resolvedRoots);
}
