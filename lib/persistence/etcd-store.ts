/**
 * Snapshots in etcd: MessagePack values (lib/ha codec) under `snapshots/<key>`. Writes with
 * a fence are one fenced transaction (lib/ha/fenced-txn.ts). etcd refuses requests above
 * about 1.5 MiB, so a snapshot above `limitBytes` fails with SnapshotTooLargeError naming
 * the file store. There is deliberately no silent fallback to files: a file is not fenced
 * by etcd, and a store that changes its guarantees with the size of the state would surprise.
 */
import type { Namespace } from 'etcd3';
import { decodeValue, encodeValue, MAX_VALUE_BYTES } from '../ha/codec.js';
import { etcdCall } from '../ha/etcd-client.js';
import { HaValueTooLargeError } from '../ha/errors.js';
import { fencedTxn } from '../ha/fenced-txn.js';
import { SnapshotTooLargeError } from './errors.js';
import type { SnapshotFence, SnapshotStore } from './types.js';

export interface EtcdSnapshotStoreOptions {
  /** A namespace to keep snapshots in, e.g. `client.namespace(haRoot('my-service'))`. */
  root: Namespace;
  /** Largest encoded snapshot accepted (default MAX_VALUE_BYTES, 1 MiB). */
  limitBytes?: number;
}

/**
 * @example
 * ```ts
 * const store = new EtcdSnapshotStore({ root: client.namespace(haRoot('my-service')) });
 * await store.save('counter', actor.getPersistedSnapshot());
 * const snapshot = await store.load('counter');
 * ```
 */
export class EtcdSnapshotStore implements SnapshotStore {
  private readonly root: Namespace;
  private readonly limitBytes: number;

  constructor(options: EtcdSnapshotStoreOptions) {
    this.root = options.root;
    this.limitBytes = options.limitBytes ?? MAX_VALUE_BYTES;
  }

  async load(key: string): Promise<unknown | undefined> {
    const bytes = await etcdCall('snapshot load', () => this.root.get(keyOf(key)).buffer());
    return bytes === null ? undefined : decodeValue(bytes);
  }

  async save(key: string, snapshot: unknown, fence?: SnapshotFence): Promise<void> {
    let value: Buffer;
    try {
      value = encodeValue(keyOf(key), snapshot, this.limitBytes);
    } catch (err) {
      if (err instanceof HaValueTooLargeError) {
        throw new SnapshotTooLargeError(key, Number(err.details['bytes']), this.limitBytes, { cause: err });
      }
      throw err;
    }
    const put = this.root.put(keyOf(key)).value(value);
    if (fence) await fencedTxn(fence.root, fence.guard, 'snapshot save', [put]);
    else await etcdCall('snapshot save', () => put.exec());
  }

  async remove(key: string, fence?: SnapshotFence): Promise<void> {
    const del = this.root.delete().key(keyOf(key));
    if (fence) await fencedTxn(fence.root, fence.guard, 'snapshot remove', [del]);
    else await etcdCall('snapshot remove', () => del.exec());
  }
}

function keyOf(key: string): string {
  return `snapshots/${encodeURIComponent(key)}`;
}
