/**
 * Savepoints and stop intents in etcd, so that REST, the CLI and a new leader agree on what
 * happened to a savepoint even when the leader that took it is gone.
 *
 * Protocol of one savepoint (the JobMaster drives it; every write is a fenced transaction):
 * 1. `begin`: the record is `in-progress` before any barrier is injected, so that every
 *    savepoint directory that may exist has a record naming it;
 * 2. `complete`: after its `_metadata` file is written, ONE transaction marks the record
 *    `completed` and, for `--stop`, stores the job's stop intent. Only then is the client told;
 *    a new leader that finds the stop intent ends the job instead of resuming it;
 * 3. `fail` (aborted, or the leader lost): the record is `failed` and the stop intent is
 *    removed in one transaction; the directory is deleted by whoever fails it.
 * A new leader fails every record still `in-progress`: its leader is gone, and it never told
 * its client anything but an error.
 *
 * Keys (under the cluster's root): `savepoints/<jobId>/<checkpointId, padded>` and
 * `stop-intents/<jobId>`.
 */
import type { IOperation } from 'etcd3';
import { decodeValue, encodeValue } from './codec.js';
import { etcdCall } from './etcd-client.js';
import { fencedTxn } from './fenced-txn.js';
import { pageSizeFor, readAllPaged } from './etcd-pages.js';
import type { EtcdStoreOptions } from './etcd-stores.js';

export const SavepointState = { InProgress: 'in-progress', Completed: 'completed', Failed: 'failed' } as const;
export type SavepointState = (typeof SavepointState)[keyof typeof SavepointState];

export interface SavepointRecord {
  jobId: string;
  checkpointId: number;
  /** The savepoint's directory (it holds `_metadata` once completed). */
  path: string;
  /** `--stop`: the job ends once the savepoint completes. */
  stop: boolean;
  /** Chosen by the client, so that it finds its savepoint after a leader change. */
  requestId: string;
  state: SavepointState;
  triggeredAt: number;
  endedAt: number | null;
  failure?: string;
}

/** A stop-with-savepoint that completed: the job must end, whichever leader runs it. */
export interface StopIntent {
  jobId: string;
  savepointPath: string;
  checkpointId: number;
  recordedAt: number;
}

export interface SavepointStore {
  begin(record: SavepointRecord): Promise<void>;
  /** Marks `record` completed and, if it stops the job, records the stop intent: one transaction. */
  complete(record: SavepointRecord, now: number): Promise<SavepointRecord>;
  /** Marks `record` failed and removes a stop intent it may have recorded: one transaction. */
  fail(record: SavepointRecord, reason: string, now: number): Promise<SavepointRecord>;
  list(jobId: string): Promise<SavepointRecord[]>;
  /** Every job's savepoints (a new leader settles those in progress). */
  listAll(): Promise<SavepointRecord[]>;
  stopIntent(jobId: string): Promise<StopIntent | undefined>;
  /** Every stop intent. */
  stopIntents(): Promise<StopIntent[]>;
  /** The job has ended: its stop intent has done its work. Savepoint records stay. */
  removeStopIntent(jobId: string): Promise<void>;
}

export const SavepointKeys = {
  prefix: 'savepoints/',
  jobPrefix: (jobId: string) => `savepoints/${encodeURIComponent(jobId)}/`,
  savepoint: (jobId: string, checkpointId: number) => `savepoints/${encodeURIComponent(jobId)}/${String(checkpointId).padStart(20, '0')}`,
  stopIntentPrefix: 'stop-intents/',
  stopIntent: (jobId: string) => `stop-intents/${encodeURIComponent(jobId)}`,
} as const;

/**
 * @example
 * ```ts
 * const savepoints = new EtcdSavepointStore({ root, guard: election.guard() });
 * await savepoints.begin(record);
 * await savepoints.complete(record, Date.now()); // now the client may be told
 * ```
 */
export class EtcdSavepointStore implements SavepointStore {
  constructor(private readonly options: EtcdStoreOptions) {}

  async begin(record: SavepointRecord): Promise<void> {
    await this.write('savepoint begin', { ...record, state: SavepointState.InProgress, endedAt: null });
  }

  async complete(record: SavepointRecord, now: number): Promise<SavepointRecord> {
    const done: SavepointRecord = { ...record, state: SavepointState.Completed, endedAt: now };
    const { root } = this.options;
    const ops: IOperation[] = [this.putOp(done)];
    if (record.stop) {
      const key = SavepointKeys.stopIntent(record.jobId);
      const intent: StopIntent = { jobId: record.jobId, savepointPath: record.path, checkpointId: record.checkpointId, recordedAt: now };
      ops.push(root.put(key).value(encodeValue(key, intent)));
    }
    await fencedTxn(root, this.options.guard, 'savepoint complete', ops);
    return done;
  }

  async fail(record: SavepointRecord, reason: string, now: number): Promise<SavepointRecord> {
    const failed: SavepointRecord = { ...record, state: SavepointState.Failed, endedAt: now, failure: reason };
    const { root } = this.options;
    const ops: IOperation[] = [this.putOp(failed)];
    // Only the stop intent this savepoint recorded, never that of another (completed) one.
    if (record.stop && (await this.stopIntent(record.jobId))?.checkpointId === record.checkpointId) {
      ops.push(root.delete().key(SavepointKeys.stopIntent(record.jobId)));
    }
    await fencedTxn(root, this.options.guard, 'savepoint fail', ops);
    return failed;
  }

  list(jobId: string): Promise<SavepointRecord[]> {
    return this.values<SavepointRecord>('savepoint list', SavepointKeys.jobPrefix(jobId));
  }

  listAll(): Promise<SavepointRecord[]> {
    return this.values<SavepointRecord>('savepoint list', SavepointKeys.prefix);
  }

  async stopIntent(jobId: string): Promise<StopIntent | undefined> {
    const bytes = await etcdCall('stop intent get', () => this.options.root.get(SavepointKeys.stopIntent(jobId)).buffer());
    return bytes === null ? undefined : decodeValue<StopIntent>(bytes);
  }

  stopIntents(): Promise<StopIntent[]> {
    return this.values<StopIntent>('stop intent list', SavepointKeys.stopIntentPrefix);
  }

  async removeStopIntent(jobId: string): Promise<void> {
    const { root, guard } = this.options;
    await fencedTxn(root, guard, 'stop intent remove', [root.delete().key(SavepointKeys.stopIntent(jobId))]);
  }

  private async write(operation: string, record: SavepointRecord): Promise<void> {
    await fencedTxn(this.options.root, this.options.guard, operation, [this.putOp(record)]);
  }

  private putOp(record: SavepointRecord) {
    const key = SavepointKeys.savepoint(record.jobId, record.checkpointId);
    return this.options.root.put(key).value(encodeValue(key, record));
  }

  private async values<T>(operation: string, prefix: string): Promise<T[]> {
    return readAllPaged(this.options.root, prefix, { operation, pageSize: pageSizeFor() }, (kv) => decodeValue<T>(kv.value));
  }
}
