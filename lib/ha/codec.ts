/**
 * Values in etcd are MessagePack (msgpackr, plain maps: no records extension), like our wire
 * format: binary (job code, handles) stays binary, unlike JSON. Inspect with
 * `etcdctl get --print-value-only <key> | msgpack2json` or through these services.
 */
import { Packr } from 'msgpackr';
import { HaValueTooLargeError } from './errors.js';

/**
 * etcd refuses requests above `--max-request-bytes` (1.5 MiB by default); values are kept
 * well below, leaving room for the key and the transaction around it.
 */
export const MAX_VALUE_BYTES = 1024 * 1024;

const packr = new Packr({ useRecords: false, moreTypes: false });

export function encodeValue(key: string, value: unknown, limitBytes = MAX_VALUE_BYTES): Buffer {
  const bytes = packr.pack(value);
  if (bytes.length > limitBytes) throw new HaValueTooLargeError(key, bytes.length, limitBytes);
  return bytes;
}

/** MessagePack without the etcd limit: for blobs (blob-store.ts), which live on disk. */
export function packBlob(value: unknown): Buffer {
  return packr.pack(value);
}

export function decodeValue<T = unknown>(bytes: Buffer): T {
  return packr.unpack(bytes) as T;
}
