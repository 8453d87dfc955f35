/**
 * Errors of the cluster client, each naming what it could not reach and for how long, so that
 * an operator knows where to look. Callers branch on `code`, never on message text.
 */
import { RuntimeError } from '../errors.js';

export const ClientErrorCode = {
  /** No etcd endpoint answered within the connect timeout. */
  EtcdUnreachable: 'ETCD_UNREACHABLE',
  /** etcd answers, but no Master of this cluster leads. */
  NoLeader: 'NO_LEADER',
  /** Standalone mode: nothing accepts connections at the Master's address. */
  MasterUnreachable: 'MASTER_UNREACHABLE',
  /** The job module (or one of its imports) cannot be bundled: a syntax error, an import that does not resolve. */
  JobBundleFailed: 'JOB_BUNDLE_FAILED',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

export class EtcdUnreachableError extends RuntimeError {
  override name = 'EtcdUnreachableError';
  constructor(endpoints: readonly string[], waitedMs: number, cause: unknown) {
    const why = cause instanceof Error ? `; last error: ${cause.message}` : '';
    super(
      ClientErrorCode.EtcdUnreachable,
      `etcd is unreachable at ${endpoints.join(', ')}: no answer within ${waitedMs} ms${why}. ` +
        `Check that etcd runs there, or name the right endpoints (--etcd, FLINKISH_ETCD_ENDPOINTS, or the local cluster's cluster.json)`,
      { cause, details: { endpoints: [...endpoints], waitedMs } },
    );
  }
}

export class NoLeaderError extends RuntimeError {
  override name = 'NoLeaderError';
  constructor(clusterId: string, endpoints: readonly string[], waitedMs: number) {
    super(
      ClientErrorCode.NoLeader,
      `no leading Master of cluster '${clusterId}' within ${waitedMs} ms: etcd at ${endpoints.join(', ')} answers, but no Master leads. ` +
        `Check that the Masters run and use cluster id '${clusterId}' (--cluster-id, FLINKISH_CLUSTER_ID)`,
      { details: { clusterId, endpoints: [...endpoints], waitedMs } },
    );
  }
}

export class MasterUnreachableError extends RuntimeError {
  override name = 'MasterUnreachableError';
  constructor(address: string, waitedMs: number, cause: unknown) {
    const why = cause instanceof Error ? ` (${cause.message})` : '';
    super(
      ClientErrorCode.MasterUnreachable,
      `no Master at ${address}: not accepting connections within ${waitedMs} ms${why}. ` +
        `Check that it runs, or name it (--master, FLINKISH_MASTER_ADDRESS; for a local cluster, 'flinkish cluster start' records it in cluster.json)`,
      { cause, details: { address, waitedMs } },
    );
  }
}
