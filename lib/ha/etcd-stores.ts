/**
 * Job graphs and job results in etcd. Reads need no guard; every write is a fenced
 * transaction (fenced-txn.ts), so only the current leader's writes land.
 * Values are MessagePack (codec.ts), each at most MAX_VALUE_BYTES; a job result at most
 * RESULT_VALUE_BYTES (large parts of a result belong in blob storage, blob-store.ts). Every
 * listing reads in pages (etcd-pages.ts), so no answer nears gRPC's 4 MiB message limit,
 * however many jobs the cluster has run.
 */
import type { Namespace } from 'etcd3';
import { decodeValue, encodeValue } from './codec.js';
import { etcdCall, HaKeys } from './etcd-client.js';
import { listKeysPaged, pageSizeFor, readAllPaged } from './etcd-pages.js';
import { fencedTxn, type EtcdLeaderGuard } from './fenced-txn.js';
import type { JobExecution, JobGraphStore, JobResult, JobResultStore } from './types.js';

/** Largest job result value: results are summaries, read back all at once by a new leader. */
export const RESULT_VALUE_BYTES = 128 * 1024;

export interface EtcdStoreOptions {
  /** The cluster's root namespace: `client.namespace(haRoot(clusterId))`. */
  root: Namespace;
  /** The current term's guard (`election.guard()`); null for a read-only view (standby, client). */
  guard: EtcdLeaderGuard | null;
}

/**
 * @example
 * ```ts
 * const graphs = new EtcdJobGraphStore({ root, guard: election.guard() });
 * await graphs.put(jobId, graph); // FencingError once this term is over
 * ```
 */
export class EtcdJobGraphStore implements JobGraphStore {
  constructor(private readonly options: EtcdStoreOptions) {}

  async put(jobId: string, graph: unknown): Promise<void> {
    const key = HaKeys.jobGraph(jobId);
    const value = encodeValue(key, graph);
    await fencedTxn(this.options.root, this.options.guard, 'job graph put', [this.options.root.put(key).value(value)]);
  }

  async get(jobId: string): Promise<unknown | undefined> {
    const bytes = await etcdCall('job graph get', () => this.options.root.get(HaKeys.jobGraph(jobId)).buffer());
    return bytes === null ? undefined : decodeValue(bytes);
  }

  /** The graph and its execution record go together, in one transaction. */
  async remove(jobId: string): Promise<void> {
    const { root, guard } = this.options;
    await fencedTxn(root, guard, 'job graph remove', [root.delete().key(HaKeys.jobGraph(jobId)), root.delete().key(HaKeys.jobExecution(jobId))]);
  }

  async list(): Promise<string[]> {
    const keys = await listKeysPaged(this.options.root, HaKeys.jobGraphPrefix, 'job graph list');
    return keys.map((k) => decodeURIComponent(k.slice(HaKeys.jobGraphPrefix.length)));
  }

  async putExecution(jobId: string, execution: JobExecution): Promise<void> {
    const { root, guard } = this.options;
    const key = HaKeys.jobExecution(jobId);
    const value = encodeValue(key, { attempt: execution.attempt, restarts: execution.restarts });
    await fencedTxn(root, guard, 'job execution put', [root.put(key).value(value)]);
  }

  async getExecution(jobId: string): Promise<JobExecution | undefined> {
    const bytes = await etcdCall('job execution get', () => this.options.root.get(HaKeys.jobExecution(jobId)).buffer());
    return bytes === null ? undefined : decodeValue<JobExecution>(bytes);
  }
}

/**
 * @example
 * ```ts
 * const results = new EtcdJobResultStore({ root, guard: election.guard() });
 * await results.put({ jobId, state: 'finished', durationMs });
 * if (await results.has(jobId)) skipRecovery(jobId);
 * ```
 */
export class EtcdJobResultStore implements JobResultStore {
  constructor(private readonly options: EtcdStoreOptions) {}

  async put(result: JobResult): Promise<void> {
    const key = HaKeys.jobResult(result.jobId);
    const value = encodeValue(key, result, RESULT_VALUE_BYTES);
    await fencedTxn(this.options.root, this.options.guard, 'job result put', [this.options.root.put(key).value(value)]);
  }

  async get(jobId: string): Promise<JobResult | undefined> {
    const bytes = await etcdCall('job result get', () => this.options.root.get(HaKeys.jobResult(jobId)).buffer());
    return bytes === null ? undefined : decodeValue<JobResult>(bytes);
  }

  async has(jobId: string): Promise<boolean> {
    return etcdCall('job result has', () => this.options.root.get(HaKeys.jobResult(jobId)).exists());
  }

  async list(): Promise<JobResult[]> {
    const options = { operation: 'job result list', pageSize: pageSizeFor(RESULT_VALUE_BYTES) };
    return readAllPaged(this.options.root, HaKeys.jobResultPrefix, options, (kv) => decodeValue<JobResult>(kv.value));
  }
}
