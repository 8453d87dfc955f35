/**
 * Completed checkpoints' metadata and checkpoint ids in etcd, per job. Writes are fenced
 * transactions (fenced-txn.ts); the checkpoint files themselves live in checkpoint storage.
 */
import { retainLatest } from './checkpoint-retention.js';
import { decodeValue, encodeValue } from './codec.js';
import { etcdCall, HaKeys } from './etcd-client.js';
import { pageSizeFor, readAllPaged } from './etcd-pages.js';
import { fencedTxn } from './fenced-txn.js';
import type { EtcdStoreOptions } from './etcd-stores.js';
import type { CheckpointIdCounter, CheckpointMetadata, CompletedCheckpointStore } from './types.js';

/**
 * Keeps the `retain` latest completed checkpoints of each job.
 *
 * @example
 * ```ts
 * const store = new EtcdCompletedCheckpointStore({ root, guard, retain: 3 });
 * const subsumed = await store.add(jobId, { checkpointId: 7, handles });
 * for (const old of subsumed) await storage.discard(old);
 * const restoreFrom = await store.latest(jobId);
 * ```
 */
export class EtcdCompletedCheckpointStore implements CompletedCheckpointStore {
  private readonly retain: number;

  constructor(private readonly options: EtcdStoreOptions & { retain?: number }) {
    this.retain = options.retain ?? 1;
  }

  /**
   * The new checkpoint and the deletion of the subsumed ones commit in one fenced
   * transaction. One writer per job is expected (the leader's checkpoint coordinator, which
   * completes checkpoints one at a time); adds of one job must not run concurrently.
   */
  async add(jobId: string, checkpoint: CheckpointMetadata): Promise<CheckpointMetadata[]> {
    const { root, guard } = this.options;
    const key = HaKeys.checkpoint(jobId, checkpoint.checkpointId);
    const value = encodeValue(key, checkpoint);
    const { items } = await this.read(jobId);
    const { subsumed } = retainLatest(items, checkpoint, this.retain);
    const ops = [
      ...(subsumed.includes(checkpoint) ? [] : [root.put(key).value(value)]),
      ...subsumed.filter((c) => c !== checkpoint).map((c) => root.delete().key(HaKeys.checkpoint(jobId, c.checkpointId))),
    ];
    if (ops.length > 0) await fencedTxn(root, guard, 'checkpoint add', ops);
    return subsumed;
  }

  async latest(jobId: string): Promise<CheckpointMetadata | undefined> {
    const values = await etcdCall('checkpoint latest', () =>
      this.options.root.getAll().prefix(HaKeys.checkpointPrefix(jobId)).sort('Key', 'Descend').limit(1).exec(),
    );
    const kv = values.kvs[0];
    return kv ? decodeValue<CheckpointMetadata>(kv.value) : undefined;
  }

  async list(jobId: string): Promise<CheckpointMetadata[]> {
    return (await this.read(jobId)).items;
  }

  async removeJob(jobId: string): Promise<CheckpointMetadata[]> {
    const { root, guard } = this.options;
    const { items } = await this.read(jobId);
    await fencedTxn(root, guard, 'checkpoint remove job', [root.delete().prefix(HaKeys.checkpointPrefix(jobId))]);
    return items;
  }

  private async read(jobId: string): Promise<{ items: CheckpointMetadata[] }> {
    // Paged like every listing: a job keeps few checkpoints, but each may be up to MAX_VALUE_BYTES.
    const options = { operation: 'checkpoint list', pageSize: pageSizeFor() };
    return { items: await readAllPaged(this.options.root, HaKeys.checkpointPrefix(jobId), options, (kv) => decodeValue<CheckpointMetadata>(kv.value)) };
  }
}

/**
 * Checkpoint ids per job: a compare-and-swap on the counter key (its mod revision) inside
 * the fenced transaction, retried on conflict. The value is the next id as decimal text. Ids are unique and increasing across leaders;
 * an id taken by a write whose answer was lost (timeout) is skipped, never reused.
 *
 * @example
 * ```ts
 * const ids = new EtcdCheckpointIdCounter({ root, guard });
 * const checkpointId = await ids.getAndIncrement(jobId);
 * ```
 */
export class EtcdCheckpointIdCounter implements CheckpointIdCounter {
  constructor(private readonly options: EtcdStoreOptions) {}

  async getAndIncrement(jobId: string): Promise<number> {
    const { root, guard } = this.options;
    const key = HaKeys.checkpointCounter(jobId);
    for (;;) {
      const { next, modRevision } = await this.read(key);
      const res = await fencedTxn(root, guard, 'checkpoint id increment', [root.put(key).value(String(next + 1))], (txn) =>
        txn.and(key, 'Mod', '==', modRevision),
      );
      if (res.succeeded) return next;
    }
  }

  async get(jobId: string): Promise<number> {
    return (await this.read(HaKeys.checkpointCounter(jobId))).next;
  }

  private async read(key: string): Promise<{ next: number; modRevision: string }> {
    const res = await etcdCall('checkpoint id read', () => this.options.root.get(key).exec());
    const kv = res.kvs[0];
    // An absent key has mod revision 0, which is what the compare then checks.
    return kv ? { next: Number(kv.value.toString('utf8')), modRevision: kv.mod_revision } : { next: 1, modRevision: '0' };
  }
}
