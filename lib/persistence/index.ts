/** Persisted actor state: snapshot stores (etcd, files) and the wrapper that saves and restores. */
export { ActorPersistence, type PersistenceOptions } from './actor-persistence.js';
export { EtcdSnapshotStore, type EtcdSnapshotStoreOptions } from './etcd-store.js';
export { FileSnapshotStore, type FileSnapshotStoreOptions } from './file-store.js';
export type { SnapshotStore, SnapshotFence } from './types.js';
export { PersistenceErrorCode, SnapshotTooLargeError, PersistenceClosedError } from './errors.js';
