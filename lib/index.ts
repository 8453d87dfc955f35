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
export type { ActorSystemOptions } from './actor/options.js';
export type { SupervisionPolicy } from './actor/supervision.js';
export type { TlsSettings } from './transport/transport.js';
export {
  RuntimeError,
  ErrorCode,
  AskTimeoutError,
  DeadLetterError,
  PeerUnreachableError,
  SendQueueFullError,
  ConfigError,
} from './errors.js';
export { createLogger, type Logger } from './logging.js';
