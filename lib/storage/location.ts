/**
 * Storage locations: an absolute path (a plain path or `file:///dir`, on a filesystem all
 * TaskExecutors share) or `s3://bucket/prefix`. Locations are kept as strings in state
 * handles, savepoint records and metadata; a file location is kept as the plain path, so
 * that metadata written before storage URLs existed reads the same.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StorageLocationError } from './errors.js';

export type ParsedLocation = { kind: 'file'; path: string } | { kind: 's3'; bucket: string; key: string };

const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function isUrlLocation(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

/** The canonical form: file URLs and relative paths become absolute paths; s3 URLs lose trailing slashes. */
export function normalizeLocation(location: string, base = process.cwd()): string {
  const parsed = parseLocation(location, base);
  return parsed.kind === 'file' ? parsed.path : parsed.key === '' ? `s3://${parsed.bucket}` : `s3://${parsed.bucket}/${parsed.key}`;
}

export function parseLocation(location: string, base = process.cwd()): ParsedLocation {
  if (location === '' || location.includes('\0')) throw new StorageLocationError(location, 'is empty or holds a NUL');
  if (!isUrlLocation(location)) return { kind: 'file', path: path.resolve(base, location) };
  const scheme = location.slice(0, location.indexOf(':')).toLowerCase();
  if (scheme === 'file') {
    try {
      return { kind: 'file', path: path.resolve(fileURLToPath(location)) };
    } catch (err) {
      throw new StorageLocationError(location, `is not a local file URL (${(err as Error).message})`);
    }
  }
  if (scheme !== 's3') throw new StorageLocationError(location, `has the unsupported scheme '${scheme}:'`);
  const rest = location.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  if (!S3_BUCKET.test(bucket)) throw new StorageLocationError(location, `names no valid bucket ('${bucket}')`);
  const segments = (slash < 0 ? '' : rest.slice(slash + 1)).split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) throw new StorageLocationError(location, "has '.' or '..' segments");
  return { kind: 's3', bucket, key: segments.join('/') };
}

/** `location` + `parts`, for either kind. */
export function joinLocation(location: string, ...parts: string[]): string {
  if (location.toLowerCase().startsWith('s3://')) return [location.replace(/\/+$/, ''), ...parts].join('/');
  return path.join(location, ...parts);
}

/** Is `inner` `outer` itself or below it (normalized; never across kinds or buckets)? */
export function isWithinLocation(outer: string, inner: string): boolean {
  const a = parseLocation(outer);
  const b = parseLocation(inner);
  if (a.kind === 'file' && b.kind === 'file') {
    const relative = path.relative(a.path, b.path);
    return !(relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative));
  }
  if (a.kind === 's3' && b.kind === 's3') return a.bucket === b.bucket && (a.key === '' || b.key === a.key || b.key.startsWith(`${a.key}/`));
  return false;
}

/** The last segment (a file name or an object's name). */
export function baseNameOf(location: string): string {
  const parsed = parseLocation(location);
  return parsed.kind === 'file' ? path.basename(parsed.path) : (parsed.key.split('/').pop() ?? '');
}

/** The location one segment up. */
export function parentOf(location: string): string {
  const parsed = parseLocation(location);
  if (parsed.kind === 'file') return path.dirname(parsed.path);
  const segments = parsed.key.split('/').filter(Boolean);
  segments.pop();
  return segments.length === 0 ? `s3://${parsed.bucket}` : `s3://${parsed.bucket}/${segments.join('/')}`;
}
