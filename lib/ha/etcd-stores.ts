/**
 * Job graphs and job results in etcd. Reads need no guard; every write is a fenced
 * transaction (fenced-txn.ts), so only the current leader's writes land.
 * Values are MessagePack (codec.ts), each at most MAX_VALUE_BYTES.
 */
import type { Namespace } from 'etcd3';
import { decodeValue, encodeValue } from './codec.js';
import { etcdCall, HaKeys } from './etcd-client.js';
import { fencedTxn, type EtcdLeaderGuard } from './fenced-txn.js';
import type { JobGraphStore, JobResult, JobResultStore } from './types.js';

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

  async remove(jobId: string): Promise<void> {
    const { root, guard } = this.options;
    await fencedTxn(root, guard, 'job graph remove', [root.delete().key(HaKeys.jobGraph(jobId))]);
  }

  async list(): Promise<string[]> {
    const keys = await etcdCall('job graph list', () => this.options.root.getAll().prefix(HaKeys.jobGraphPrefix).keys());
    return keys.map((k) => decodeURIComponent(k.slice(HaKeys.jobGraphPrefix.length)));
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
    const value = encodeValue(key, result);
    await fencedTxn(this.options.root, this.options.guard, 'job result put', [this.options.root.put(key).value(value)]);
  }

  async get(jobId: string): Promise<JobResult | undefined> {
    const bytes = await etcdCall('job result get', () => this.options.root.get(HaKeys.jobResult(jobId)).buffer());
    return bytes === null ? undefined : decodeValue<JobResult>(bytes);
  }

  async has(jobId: string): Promise<boolean> {
    const res = await etcdCall('job result has', () => this.options.root.get(HaKeys.jobResult(jobId)).exec());
    return res.kvs.length > 0;
  }

  async list(): Promise<JobResult[]> {
    const values = await etcdCall('job result list', () =>
      this.options.root.getAll().prefix(HaKeys.jobResultPrefix).exec().then((r) => r.kvs.map((kv) => kv.value)),
    );
    return values.map((v) => decodeValue<JobResult>(v));
  }
}
