/**
 * The public API. Everything a service needs to embed actors: the system, refs, replies,
 * watch notices, options and errors. Internals stay behind this list.
 */
export { ActorSystem, type ActorEnv, type SpawnOptions, type SystemEvents, type DeadLetter } from './actor/system.js';
export {
  ActorRef,
  reply,
  replyError,
  isAskFailure,
  type Message,
  type Request,
  type AskOptions,
  type SendOptions,
  type AskableType,
  type ReplyOf,
  type AskFailure,
} from './actor/ref.js';
export type { WatchNotice, ActorTerminated, ActorRestarted, Watcher, TerminationReason } from './actor/notices.js';
export type { ActorSystemOptions, ClientProtocol } from './actor/options.js';
export { realClock, type Clock, type TimerHandle } from './util/clock.js';
export { HandshakeCode, TransportErrorCode, AuthFailedError, HandshakeRefusedError, ClientForbiddenError } from './transport/errors.js';
export type { SupervisionPolicy } from './actor/supervision.js';
export type { TlsSettings } from './transport/transport.js';
export {
  RuntimeError,
  ErrorCode,
  AskTimeoutError,
  DeadLetterError,
  PeerUnreachableError,
  UnhandledInStateError,
  SendQueueFullError,
  ConfigError,
} from './errors.js';
export { createLogger, type Logger } from './logging.js';

// HA singleton actors and persisted actor state.
export {
  SingletonManager,
  SingletonRef,
  HostState,
  SingletonErrorCode,
  SingletonUnavailableError,
  SingletonNotHostError,
  SingletonClosedError,
  type SingletonManagerOptions,
  type SingletonOptions,
  type SingletonPersistence,
  type SingletonEnv,
  type SingletonEvents,
} from './singleton/index.js';
export {
  ActorPersistence,
  EtcdSnapshotStore,
  FileSnapshotStore,
  PersistenceErrorCode,
  SnapshotTooLargeError,
  PersistenceClosedError,
  type PersistenceOptions,
  type SnapshotStore,
  type SnapshotFence,
  type EtcdSnapshotStoreOptions,
  type FileSnapshotStoreOptions,
} from './persistence/index.js';

// HA services over etcd (the singleton's and the cluster's).
export {
  createEtcdClient,
  haRoot,
  fencedTxn,
  EtcdHaServices,
  EtcdLeaderElection,
  EtcdLeaderRetrieval,
  startEtcdCluster,
  FencingError,
  type LeaderContender,
  type LeaderInfo,
  type EtcdCluster,
} from './ha/index.js';

// Jobs: the DataStream API a job module builds with, and the client that submits it.
export { StreamEnvironment, DataStream, KeyedStream, type JobFunction } from './dataflow/index.js';
export type { CheckpointConfig, RestartStrategy, JobConfig } from './dataflow/job-config.js';
// Event time, windows, timers and several inputs.
export {
  SingleOutputStream,
  WindowedStream,
  ConnectedStreams,
  BroadcastStream,
  BroadcastConnectedStream,
  JoinedStreams,
  WindowJoin,
  IntervalJoin,
  type IntervalJoinContext,
  WatermarkStrategy,
  BoundedOutOfOrdernessWatermarks,
  OutputTag,
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
  SlidingEventTimeWindows,
  SlidingProcessingTimeWindows,
  EventTimeSessionWindows,
  ProcessingTimeSessionWindows,
  CountTrigger,
  CountEvictor,
  TimeEvictor,
  DeltaEvictor,
  type Evictor,
  type EvictorContext,
  type TimestampedValue,
  type Trigger,
  type TriggerContext,
  type OnMergeContext,
  type TriggerResult,
  NO_TIMESTAMP,
  MIN_WATERMARK,
  MAX_WATERMARK,
  type WatermarkGenerator,
  type WatermarkOutput,
  type TimestampAssigner,
  type WindowAssigner,
  type TimeWindow,
  type AggregateFunction,
  type ProcessWindowFunction,
  type ProcessWindowContext,
  type TimerService,
  type ProcessFunction,
  type ProcessContext,
  type OnTimerContext,
  type CoProcessFunction,
  type BroadcastProcessFunction,
  type BroadcastState,
  type ReadOnlyBroadcastState,
  type BroadcastContext,
  type ReadOnlyBroadcastContext,
  type Collector,
  type KeyedContext,
  type ValueState,
  type MapState,
} from './dataflow/index.js';
export { ClusterClient, type ClientOptions, type SubmitOptions } from './client/cluster-client.js';
export { loadConfig, configDefaults, type ClusterConfig } from './config.js';
