/**
 * Range reads in pages. One answer of etcd must fit in one gRPC message, so no store reads a
 * prefix in one request: it reads at most `pageSize` keys at a time, each page starting after
 * the last key of the one before, all pages at the first page's revision (one consistent
 * view). A page holds at most `pageSize` values of at most etcd's `--max-request-bytes`
 * (1.5 MiB by default) each, and the client accepts answers up to MAX_ANSWER_BYTES
 * (etcd-client.ts), which every page size here stays within, whatever was stored before.
 */
import { Range, type IKeyValue, type Namespace } from 'etcd3';
import { MAX_VALUE_BYTES } from './codec.js';
import { etcdCall, MAX_ANSWER_BYTES } from './etcd-client.js';

/** What one page of values within their store's limit holds at most. */
export const PAGE_BYTES = 2 * 1024 * 1024;

/** etcd's default `--max-request-bytes`: no value stored through etcd's defaults is larger. */
export const ETCD_MAX_VALUE_BYTES = 1.5 * 1024 * 1024;

/**
 * Keys per page when every value is at most `valueLimitBytes`: PAGE_BYTES per page, and even
 * values up to etcd's own limit (written before a store bounded them) fit in one answer.
 */
export function pageSizeFor(valueLimitBytes: number = MAX_VALUE_BYTES): number {
  return Math.max(1, Math.min(Math.floor(PAGE_BYTES / valueLimitBytes), Math.floor(MAX_ANSWER_BYTES / ETCD_MAX_VALUE_BYTES / 2)));
}

/** Keys-only pages: keys are small, so many fit. */
export const KEYS_PAGE_SIZE = 1000;

export interface PageOptions {
  /** Named in errors: `etcd <operation> failed: ...`. */
  operation: string;
  pageSize: number;
}

/**
 * Every key and value under `prefix` (relative to `root`), in key order, page by page.
 *
 * @example
 * ```ts
 * for await (const page of rangePages(root, HaKeys.jobResultPrefix, { operation: 'job result list', pageSize: 32 })) {
 *   for (const kv of page) results.push(decodeValue(kv.value));
 * }
 * ```
 */
export async function* rangePages(root: Namespace, prefix: string, options: PageOptions): AsyncGenerator<IKeyValue[]> {
  const end = Range.prefix(prefix).end;
  let start: Buffer = Buffer.from(prefix);
  let revision: string | null = null;
  const pageSize = Math.max(1, Math.floor(options.pageSize));
  for (;;) {
    const from = start;
    const at = revision;
    const res = await etcdCall(options.operation, () => {
      const range = root.getAll().inRange({ start: from, end }).sort('Key', 'Ascend').limit(pageSize);
      if (at !== null) range.revision(at);
      return range.exec();
    });
    revision ??= res.header.revision;
    if (res.kvs.length > 0) yield res.kvs;
    if (!res.more || res.kvs.length === 0) return;
    start = after(res.kvs[res.kvs.length - 1]!.key);
  }
}

/** Every key under `prefix` (relative to `root`, without it), in key order, read in pages of `pageSize` keys. */
export async function listKeysPaged(root: Namespace, prefix: string, operation: string, pageSize = KEYS_PAGE_SIZE): Promise<string[]> {
  const end = Range.prefix(prefix).end;
  const out: string[] = [];
  let start: Buffer = Buffer.from(prefix);
  for (;;) {
    const from = start;
    const keys = await etcdCall(operation, () => root.getAll().inRange({ start: from, end }).sort('Key', 'Ascend').limit(pageSize).keyBuffers());
    for (const key of keys) out.push(key.toString('utf8'));
    if (keys.length < pageSize) return out;
    start = after(keys[keys.length - 1]!);
  }
}

/** Every value under `prefix`, decoded, read in pages. */
export async function readAllPaged<T>(root: Namespace, prefix: string, options: PageOptions, decode: (kv: IKeyValue) => T): Promise<T[]> {
  const out: T[] = [];
  for await (const page of rangePages(root, prefix, options)) for (const kv of page) out.push(decode(kv));
  return out;
}

/** The smallest key after `key`: where the next page starts. */
function after(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from([0])]);
}
