/** HA services: leader election and retrieval, job graph/result and checkpoint stores, over etcd. */
export type {
  LeaderContender,
  LeaderGuard,
  LeaderElection,
  LeaderInfo,
  LeaderListener,
  LeaderRetrieval,
  JobGraphStore,
  JobResult,
  JobResultStore,
  CheckpointMetadata,
  CompletedCheckpointStore,
  CheckpointIdCounter,
} from './types.js';
export { JobTerminalState } from './types.js';
export { HaErrorCode, FencingError, HaUnavailableError, HaValueTooLargeError, HaClosedError, EtcdStartError } from './errors.js';
export { createEtcdClient, haRoot, HaKeys, DEFAULT_REQUEST_TIMEOUT_MS, type EtcdClientOptions } from './etcd-client.js';
export { etcdCredentialsOf, etcdCredentialEnv, etcdCredentialsFromEnv, describeEtcdCredentials, type EtcdCredentials } from './etcd-auth.js';
export { MAX_VALUE_BYTES } from './codec.js';
export { fencedTxn, type EtcdLeaderGuard } from './fenced-txn.js';
export { EtcdLeaderElection, DEFAULT_LEASE_TTL_SECONDS, sessionIdOf, type EtcdLeaderElectionOptions } from './etcd-election.js';
export { EtcdLeaderRetrieval, type EtcdLeaderRetrievalOptions } from './etcd-retrieval.js';
export { EtcdJobGraphStore, EtcdJobResultStore, type EtcdStoreOptions } from './etcd-stores.js';
export { EtcdCompletedCheckpointStore, EtcdCheckpointIdCounter } from './etcd-checkpoints.js';
export { EtcdHaServices, type EtcdHaServicesOptions } from './etcd-ha-services.js';
export {
  startEtcdCluster,
  DEFAULT_ETCD_ELECTION_TIMEOUT_MS,
  DEFAULT_ETCD_HEARTBEAT_MS,
  type EtcdCluster,
  type EtcdClusterAccess,
  type EtcdClusterOptions,
  type EtcdTlsFiles,
  type EtcdMember,
} from './etcd-server.js';
export { retainLatest } from './checkpoint-retention.js';
export { monotonicClock, type Clock } from './util.js';
export {
  InMemoryLeaderElection,
  InMemoryJobGraphStore,
  InMemoryJobResultStore,
  InMemoryCompletedCheckpointStore,
  InMemoryCheckpointIdCounter,
} from './in-memory.js';
