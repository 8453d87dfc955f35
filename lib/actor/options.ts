/**
 * Options of an ActorSystem, their defaults, and their validation. Every problem names the key
 * and what is allowed, so a bad configuration fails at start, not at the first message.
 */
import { ConfigError } from '../errors.js';
import { resolveHosts } from '../util/host-address.js';
import type { Logger } from '../logging.js';
import type { TlsSettings, TransportHandlers } from '../transport/transport.js';
import type { WireCodec } from '../transport/connection.js';
import type { Envelope } from '../transport/protocol.js';
import type { InspectionEvent } from 'xstate';
import { realClock, type Clock } from '../util/clock.js';
import type { SupervisionPolicy } from './supervision.js';
import { defaultSupervision } from './supervision.js';

export interface ActorSystemOptions {
  /** Cluster id: peers with another id are refused in the handshake. */
  clusterId: string;
  /**
   * The node secret (at least 16 characters): this system is a node (Master, TaskExecutor) and
   * its peers must hold the same. Absent for a client, which holds only `clientSecret`.
   */
  secret?: string;
  /**
   * The client secret (at least 16 characters, not the node secret). A node that holds it
   * accepts client connections, which may only deliver `clientProtocol`; a system with only
   * this one is a client (it cannot listen).
   */
  clientSecret?: string;
  /** What a client connection may deliver: messages of these types to the actor of that name. */
  clientProtocol?: ClientProtocol;
  /** Address to listen on; loopback by default. A wildcard (`0.0.0.0`, `::`) needs `advertisedHost`. */
  host?: string;
  /** Address peers dial: this system's node id is `advertisedHost:port` (default: `host`). */
  advertisedHost?: string;
  /** 0 picks an ephemeral port. */
  port?: number;
  /** false for a client-only system (it dials, nobody dials it). Default true. */
  listen?: boolean;
  /** Mutual TLS with these PEMs; plain TCP when absent. */
  tls?: TlsSettings | null;
  heartbeatIntervalMs?: number;
  /** A connection silent for this long is declared lost. */
  heartbeatTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** Largest frame sent (and, for a client, accepted). */
  maxFrameBytes?: number;
  /**
   * Largest frame accepted from a peer, checked from its length prefix before it is buffered.
   * Control messages need far less than job results do (measured: collect batches of 1000 small
   * records ~8 KB, job code at most 1 MiB, the HA store's limit); only clients receive results.
   * Default: 8 MiB, or `maxFrameBytes` if that is smaller.
   */
  maxInboundFrameBytes?: number;
  /**
   * Largest heap a received frame may decode to, estimated by a linear pre-scan before decoding
   * (and at most 32 bytes per frame byte): a frame of empty maps would otherwise cost 60× its size.
   */
  maxDecodedBytes?: number;
  /** Bound on bytes queued per peer; beyond it `tell` throws and `send` waits. */
  sendQueueBytes?: number;
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number; giveUpAfterMs?: number };
  /** Default ask timeout. */
  askTimeoutMs?: number;
  /** Bounds on asks awaiting a reply, in total and to any one peer; beyond them `ask` rejects (TOO_MANY_PENDING_ASKS). */
  maxPendingAsks?: number;
  maxPendingAsksPerPeer?: number;
  /**
   * Bound on the peers the transport keeps state for (connected, dialing, or with queued
   * messages); a peer without a connection or queued messages is forgotten at once.
   */
  maxAssociations?: number;
  /** Of those, the peers without an open connection (being dialed, retried, or holding messages). */
  maxUnconnectedPeers?: number;
  /** Default supervision of spawned actors. */
  supervision?: Partial<SupervisionPolicy>;
  /** A logger to use; by default one is created with `LOG_LEVEL`. */
  logger?: Logger;
  /** A name for logs (e.g. 'master', 'taskexecutor-1'). */
  name?: string;
  /**
   * Time and timers of the system's actors (their delayed events, asks' timeouts, supervision
   * windows) and of its TCP transport (handshake timeouts, heartbeats, reconnects); the real
   * clock by default. Tests pass a SimulatedClock: on one, a connection's heartbeats run only as
   * the test advances time, so a test with real peers advances it in steps of an interval.
   */
  clock?: Clock;
  /**
   * The network under the system: the TCP transport by default. The simulator (lib/sim) passes
   * its simulated network here; nothing else should.
   */
  transport?: TransportFactory;
  /** xstate's inspection of every actor of the system, by actor name (the simulator's audit). */
  inspect?: (actor: string, event: InspectionEvent) => void;
}

/** The part of a transport the actor system uses (lib/transport/transport.ts is the real one). */
export interface SystemTransport {
  /** This node's id; known once started. */
  readonly node: string;
  /** This process's incarnation, announced in its handshakes. */
  readonly uid: string;
  log: Logger;
  readonly associationCount: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  send(node: string, envelope: Envelope): void;
  waitForRoom(node: string, bytes: number, timeoutMs: number): Promise<void>;
  /** Whether a connection to `node` is open now. */
  isConnected(node: string): boolean;
  /** The handshake-verified incarnation of `node` while connected to it, else null. */
  peerUid(node: string): string | null;
}

export type TransportFactory = (codec: WireCodec, handlers: TransportHandlers, log: Logger) => SystemTransport;

/** The messages that clients may send: `types` to the actor named `actor`. */
export interface ClientProtocol {
  actor: string;
  types: readonly string[];
}

export type ResolvedOptions = Required<
  Omit<ActorSystemOptions, 'logger' | 'reconnect' | 'supervision' | 'tls' | 'name' | 'secret' | 'clientSecret' | 'clientProtocol' | 'clock' | 'transport' | 'inspect'>
> & {
  secret: string | null;
  clientSecret: string | null;
  clientProtocol: ClientProtocol | null;
  tls: TlsSettings | null;
  reconnect: { initialDelayMs: number; maxDelayMs: number; giveUpAfterMs: number };
  supervision: SupervisionPolicy;
  logger: Logger | undefined;
  name: string;
  clock: Clock;
  transport: TransportFactory | null;
  inspect: ((actor: string, event: InspectionEvent) => void) | null;
};

export const defaults = {
  host: '127.0.0.1',
  port: 0,
  listen: true,
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 5000,
  handshakeTimeoutMs: 5000,
  maxFrameBytes: 16 * 1024 * 1024,
  maxInboundFrameBytes: 8 * 1024 * 1024,
  maxDecodedBytes: 64 * 1024 * 1024,
  sendQueueBytes: 64 * 1024 * 1024,
  reconnect: { initialDelayMs: 50, maxDelayMs: 2000, giveUpAfterMs: 10_000 },
  askTimeoutMs: 5000,
  maxPendingAsks: 65_536,
  maxPendingAsksPerPeer: 16_384,
  maxAssociations: 4096,
  maxUnconnectedPeers: 256,
} as const;

export function resolveOptions(options: ActorSystemOptions): ResolvedOptions {
  const o: ResolvedOptions = {
    clusterId: options.clusterId,
    secret: options.secret ?? null,
    clientSecret: options.clientSecret ?? null,
    clientProtocol: options.clientProtocol ?? null,
    ...resolveHosts(options.host ?? defaults.host, options.advertisedHost),
    port: options.port ?? defaults.port,
    listen: options.listen ?? defaults.listen,
    tls: options.tls ?? null,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? defaults.heartbeatIntervalMs,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? defaults.heartbeatTimeoutMs,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? defaults.handshakeTimeoutMs,
    maxFrameBytes: options.maxFrameBytes ?? defaults.maxFrameBytes,
    maxInboundFrameBytes:
      options.maxInboundFrameBytes ?? Math.min(defaults.maxInboundFrameBytes, options.maxFrameBytes ?? defaults.maxFrameBytes),
    maxDecodedBytes: options.maxDecodedBytes ?? defaults.maxDecodedBytes,
    sendQueueBytes: options.sendQueueBytes ?? defaults.sendQueueBytes,
    reconnect: { ...defaults.reconnect, ...options.reconnect },
    askTimeoutMs: options.askTimeoutMs ?? defaults.askTimeoutMs,
    maxPendingAsks: options.maxPendingAsks ?? defaults.maxPendingAsks,
    maxPendingAsksPerPeer: options.maxPendingAsksPerPeer ?? defaults.maxPendingAsksPerPeer,
    maxAssociations: options.maxAssociations ?? defaults.maxAssociations,
    maxUnconnectedPeers: options.maxUnconnectedPeers ?? defaults.maxUnconnectedPeers,
    supervision: { ...defaultSupervision, ...options.supervision },
    logger: options.logger,
    name: options.name ?? 'actor-system',
    clock: options.clock ?? realClock,
    transport: options.transport ?? null,
    inspect: options.inspect ?? null,
  };
  if (typeof o.clusterId !== 'string' || o.clusterId.length === 0) throw new ConfigError('clusterId', 'must be a non-empty string');
  if (o.secret === null && o.clientSecret === null) throw new ConfigError('secret', 'must be a string of at least 16 characters (or, for a client, give clientSecret)');
  if (o.secret !== null && (typeof o.secret !== 'string' || o.secret.length < 16)) throw new ConfigError('secret', 'must be a string of at least 16 characters');
  if (o.clientSecret !== null && (typeof o.clientSecret !== 'string' || o.clientSecret.length < 16)) {
    throw new ConfigError('clientSecret', 'must be a string of at least 16 characters');
  }
  if (o.secret !== null && o.secret === o.clientSecret) throw new ConfigError('clientSecret', 'must differ from the node secret, or clients could pose as nodes');
  if (o.secret === null && o.listen) throw new ConfigError('listen', 'a client (clientSecret without secret) cannot listen: set listen: false');
  positiveInt('port', o.port, 0, 65535);
  positiveInt('heartbeatIntervalMs', o.heartbeatIntervalMs, 10);
  positiveInt('heartbeatTimeoutMs', o.heartbeatTimeoutMs, o.heartbeatIntervalMs + 1);
  positiveInt('handshakeTimeoutMs', o.handshakeTimeoutMs, 10);
  positiveInt('maxFrameBytes', o.maxFrameBytes, 1024, 2 ** 31 - 1);
  positiveInt('maxInboundFrameBytes', o.maxInboundFrameBytes, 1024, 2 ** 31 - 1);
  positiveInt('maxDecodedBytes', o.maxDecodedBytes, 1024);
  positiveInt('sendQueueBytes', o.sendQueueBytes, o.maxFrameBytes);
  positiveInt('reconnect.initialDelayMs', o.reconnect.initialDelayMs, 1);
  positiveInt('reconnect.maxDelayMs', o.reconnect.maxDelayMs, o.reconnect.initialDelayMs);
  positiveInt('reconnect.giveUpAfterMs', o.reconnect.giveUpAfterMs, 0);
  positiveInt('askTimeoutMs', o.askTimeoutMs, 1);
  positiveInt('maxPendingAsks', o.maxPendingAsks, 1);
  positiveInt('maxPendingAsksPerPeer', o.maxPendingAsksPerPeer, 1, o.maxPendingAsks);
  positiveInt('maxAssociations', o.maxAssociations, 1);
  positiveInt('maxUnconnectedPeers', o.maxUnconnectedPeers, 1, o.maxAssociations);
  if (o.supervision.strategy !== 'restart' && o.supervision.strategy !== 'stop') {
    throw new ConfigError('supervision.strategy', "must be 'restart' or 'stop'");
  }
  positiveInt('supervision.maxRestarts', o.supervision.maxRestarts, 0);
  positiveInt('supervision.withinMs', o.supervision.withinMs, 1);
  if (o.tls) {
    for (const key of ['cert', 'key', 'ca'] as const) {
      if (!o.tls[key]) throw new ConfigError(`tls.${key}`, 'is required when tls is set (PEM text or Buffer)');
    }
  }
  return o;
}

function positiveInt(key: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(key, `must be an integer between ${min} and ${max}, got ${JSON.stringify(value)}`);
  }
}
