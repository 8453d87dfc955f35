/**
 * The transport: one connection per pair of nodes, carrying every actor's messages. Per peer it
 * keeps an Association — a bounded send queue that outlives any one socket — so that messages
 * sent while a connection is (re)established are delivered once it opens, or reported when the
 * peer turns out to be unreachable. Never silently dropped.
 *
 * Two nodes may dial each other at the same moment. Both keep the connection dialed by the
 * smaller node id and retire the other: they stop writing to it and half-close it, reading what
 * the peer had already sent until its end, so no message is lost in the swap.
 */
import net from 'node:net';
import tls from 'node:tls';
import { randomUUID } from 'node:crypto';
import { ErrorCode, PeerUnreachableError, SendQueueFullError, type RuntimeError } from '../errors.js';
import type { Logger } from '../logging.js';
import { FrameBatch, FrameError } from './frame.js';
import { Connection, type CloseKind, type ConnectionSettings, type WireCodec } from './connection.js';
import type { Backlog, Envelope } from './protocol.js';
import { CLIENT_NODE_PREFIX, HandshakeKeys, Plane, type Role } from './handshake.js';
import { AuthFailedError, HandshakeCode, HandshakeRefusedError, PERMANENT_REFUSALS } from './errors.js';
import { LogThrottle } from '../util/log-throttle.js';
import { formatHostPort, parseHostPort } from '../util/host-address.js';
import type { Clock, TimerHandle } from '../util/clock.js';

/** Lines about lost or unreachable peers: at most one per kind this often. */
const LOSS_LOG_INTERVAL_MS = 10_000;

/**
 * Accepted connections still in their handshake (each lives at most handshakeTimeoutMs): beyond
 * this many, a new one is closed at once, so that strangers cannot hold sockets without limit.
 */
export const MAX_HANDSHAKING_CONNECTIONS = 256;

export interface TlsSettings {
  cert: string | Buffer;
  key: string | Buffer;
  ca: string | Buffer;
}

export interface ReconnectSettings {
  initialDelayMs: number;
  maxDelayMs: number;
  /** After this long without a connection, queued messages are reported undeliverable. */
  giveUpAfterMs: number;
}

export interface TransportSettings extends Omit<ConnectionSettings, 'node' | 'uid' | 'keys'> {
  /** The node secret: this endpoint is a node (Master, TaskExecutor). Null for a client. */
  secret: string | null;
  /** The client secret: a node that holds it serves clients; an endpoint with only it is a client. */
  clientSecret: string | null;
  /** Bind address. */
  host: string;
  /** The host of this node's id: what peers dial. */
  advertisedHost: string;
  port: number;
  /** A client-only system does not listen; peers reach it over the connections it dials. */
  listen: boolean;
  tls: TlsSettings | null;
  /** Largest frame sent: a message above it is refused to its sender at once. */
  maxFrameBytes: number;
  sendQueueBytes: number;
  reconnect: ReconnectSettings;
  /** Bound on peers with state here (a connection, a dial, a reconnect timer or queued messages). */
  maxAssociations: number;
  /**
   * Bound on those of them without an open connection (dialing, retrying, holding messages):
   * the ones that anybody who hands us a ref can create, and each dial costs a socket.
   */
  maxUnconnectedPeers: number;
}

export type PeerLossReason = 'connection-lost' | 'heartbeat-timeout';

export interface TransportHandlers {
  /** An envelope from a verified peer, with the role it authenticated as. */
  onEnvelope(fromNode: string, envelope: Envelope, role: Role): Backlog | void;
  onPeerUp(node: string): void;
  /**
   * An open connection was lost, or a dial failed: the peer is unreachable right now. `refusal`
   * is set when the peer refused our handshake for good (e.g. AUTH_FAILED): waiting on it is pointless.
   */
  onPeerLost(node: string, reason: PeerLossReason, detail: string, refusal?: RuntimeError): void;
  /** Queued messages that could not be delivered: the peer was unreachable for too long or refused us. */
  onUndeliverable(node: string, messages: number, reason: string): void;
}

class Association {
  conn: Connection | null = null;
  dialing: Connection | null = null;
  uid: string | null = null;
  readonly batch = new FrameBatch();
  queuedMessages = 0;
  flushScheduled = false;
  reconnectTimer: TimerHandle | null = null;
  reconnectAttempts = 0;
  disconnectedSince: number | null = null;
  readonly drainWaiters: Array<() => void> = [];
  /** A permanent refusal of our handshake: sends fail with it until `refusedUntil`, without a dial. */
  refusal: RuntimeError | null = null;
  refusedUntil = 0;

  constructor(
    readonly node: string,
    /** The largest frame we may send it (see Transport.sendLimit). */
    readonly frameLimit: number,
  ) {}
}

export class Transport {
  /** This node's id: `host:port` when listening, else a unique client id. */
  node: string;
  readonly uid = randomUUID();
  private server: net.Server | null = null;
  private readonly associations = new Map<string, Association>();
  private readonly pending = new Set<Connection>();
  private stopped = false;
  private readonly keys: HandshakeKeys;
  /** Peers that fail, refuse or are refused are chosen by whoever sends us refs: log such lines sparingly. */
  private readonly quietLog: LogThrottle;
  /** Reconnect delays, refusal windows and send waits (the actor system's clock; connections use it too). */
  private readonly clock: Clock;

  constructor(
    private readonly settings: TransportSettings,
    private readonly codec: WireCodec,
    private readonly handlers: TransportHandlers,
    /** Replaced by the owner once the node id is known. */
    public log: Logger,
  ) {
    this.node = `${CLIENT_NODE_PREFIX}${this.uid}`;
    this.clock = settings.clock;
    this.quietLog = new LogThrottle(LOSS_LOG_INTERVAL_MS, () => this.clock.now());
    this.keys = HandshakeKeys.derive(settings.cluster, Plane.Control, { node: settings.secret, client: settings.clientSecret });
  }

  async start(): Promise<void> {
    if (!this.settings.listen) return;
    const server = this.settings.tls
      ? tls.createServer({ ...this.settings.tls, requestCert: true, rejectUnauthorized: true, allowHalfOpen: true })
      : net.createServer({ allowHalfOpen: true });
    const event = this.settings.tls ? 'secureConnection' : 'connection';
    server.on(event, (socket: net.Socket) => this.accept(socket));
    server.on('tlsClientError', (err: Error, socket: net.Socket) => {
      const pass = this.quietLog.admit('tls-refused');
      if (pass) this.log.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}`, reason: err.message, suppressed: pass.suppressed }, 'TLS handshake refused');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.settings.port, this.settings.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as net.AddressInfo;
    this.node = formatHostPort(this.settings.advertisedHost, address.port);
    this.server = server;
  }

  /**
   * Queue an envelope for `node`. Throws (so that the sender is told at once) when the peer cannot
   * be reached at all, when the message is larger than a frame may be, or when the queue is full.
   */
  send(node: string, envelope: Envelope): void {
    // A peer that refused us for good (wrong secret, cluster id, version) is told at once, without a dial.
    const known = this.associations.get(node);
    if (known && known.refusal !== null) {
      if (this.clock.now() < known.refusedUntil) throw known.refusal;
      known.refusal = null;
    }
    const payload = this.codec.encode(envelope);
    // Parsing the node id costs more than the rest of a small send: a known peer's limit is kept.
    const limit = known ? known.frameLimit : this.sendLimit(node);
    if (payload.length > limit) {
      throw new FrameError(ErrorCode.FrameTooLarge, `message of ${payload.length} bytes exceeds the frame limit of ${limit}`, {
        details: { length: payload.length, limit },
      });
    }
    // Only now: an association is created for a message that will be queued, never for nothing.
    const assoc = this.association(node);
    const queued = this.queuedBytes(assoc);
    if (queued + payload.length > this.settings.sendQueueBytes) {
      throw new SendQueueFullError(node, queued, this.settings.sendQueueBytes);
    }
    assoc.batch.append(payload);
    assoc.queuedMessages++;
    if (assoc.conn) this.scheduleFlush(assoc);
    else this.ensureConnecting(assoc);
  }

  /** Resolves once the queue to `node` has room for `bytes` more (or rejects at the deadline). */
  async waitForRoom(node: string, bytes: number, timeoutMs: number): Promise<void> {
    const assoc = this.associations.get(node);
    if (!assoc) return; // nothing queued to it: there is room
    const deadline = this.clock.now() + timeoutMs;
    while (this.queuedBytes(assoc) + bytes > this.settings.sendQueueBytes) {
      const left = deadline - this.clock.now();
      if (left <= 0) throw new SendQueueFullError(node, this.queuedBytes(assoc), this.settings.sendQueueBytes);
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(resolve, left);
        assoc.drainWaiters.push(() => {
          this.clock.clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Peers with state here now; every one of them has a connection, a dial, a timer or queued messages. */
  get associationCount(): number {
    return this.associations.size;
  }

  /** Whether a connection to `node` is open now. */
  isConnected(node: string): boolean {
    return this.associations.get(node)?.conn != null;
  }

  /** The verified incarnation uid of `node` while a connection to it is open, else null. */
  peerUid(node: string): string | null {
    const assoc = this.associations.get(node);
    return assoc?.conn ? assoc.uid : null;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const assoc of this.associations.values()) {
      if (assoc.reconnectTimer !== null) this.clock.clearTimeout(assoc.reconnectTimer);
      this.flush(assoc);
      for (const conn of [assoc.conn, assoc.dialing]) if (conn) this.endGracefully(conn);
    }
    for (const conn of this.pending) conn.close('local', 'transport stopped');
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Another node accepts what we accept (one configuration per cluster), so a message to it above
   * our inbound limit fails here, with a clear error, rather than closing the connection there.
   * Only clients, which do not listen, take frames up to maxFrameBytes (job results).
   */
  private sendLimit(node: string): number {
    const { maxFrameBytes, maxInboundFrameBytes } = this.settings;
    return parseNodeAddress(node) ? Math.min(maxFrameBytes, maxInboundFrameBytes) : maxFrameBytes;
  }

  private queuedBytes(assoc: Association): number {
    return assoc.batch.size + (assoc.conn?.writableLength ?? 0);
  }

  /** `inbound`: for a peer whose connection to us just opened (it will not be one we dial). */
  private association(node: string, inbound = false): Association {
    let assoc = this.associations.get(node);
    if (!assoc) {
      if (this.associations.size >= this.settings.maxAssociations) {
        throw new PeerUnreachableError(node, `this node already keeps state for ${this.associations.size} peers (maxAssociations)`);
      }
      if (!inbound) {
        // Rare (a peer not seen before), and bounded by maxAssociations: a scan is cheaper than bookkeeping.
        let unconnected = 0;
        for (const a of this.associations.values()) if (!a.conn) unconnected++;
        if (unconnected >= this.settings.maxUnconnectedPeers) {
          throw new PeerUnreachableError(node, `${unconnected} peers without a connection are being dialed or retried (maxUnconnectedPeers)`);
        }
      }
      assoc = new Association(node, this.sendLimit(node));
      this.associations.set(node, assoc);
    }
    return assoc;
  }

  /**
   * Forget a peer that has nothing here any more: no connection, no dial, no reconnect, nothing
   * queued. Its next message starts afresh; a peer that comes back is announced up again.
   */
  private releaseIfIdle(assoc: Association): void {
    if (assoc.conn || assoc.dialing || assoc.reconnectTimer || assoc.batch.size > 0 || assoc.drainWaiters.length > 0) return;
    // A refusal is remembered for giveUpAfterMs (sends fail at once); only our own dials make one.
    if (assoc.refusal !== null && this.clock.now() < assoc.refusedUntil) return;
    if (this.associations.get(assoc.node) === assoc) this.associations.delete(assoc.node);
  }

  private scheduleFlush(assoc: Association): void {
    if (assoc.flushScheduled) return;
    assoc.flushScheduled = true;
    process.nextTick(() => {
      assoc.flushScheduled = false;
      this.flush(assoc);
    });
  }

  private flush(assoc: Association): void {
    const conn = assoc.conn;
    if (!conn || assoc.batch.size === 0 || conn.needsDrain) return;
    conn.write(assoc.batch.take());
    assoc.queuedMessages = 0;
    this.wakeDrainWaiters(assoc);
  }

  private wakeDrainWaiters(assoc: Association): void {
    const waiters = assoc.drainWaiters.splice(0);
    for (const wake of waiters) wake();
  }

  private ensureConnecting(assoc: Association): void {
    if (this.stopped) {
      this.dropQueued(assoc, 'the actor system is terminating');
      return;
    }
    if (assoc.dialing || assoc.reconnectTimer) return;
    const address = parseNodeAddress(assoc.node);
    if (!address) {
      // A client-only node: it can only be reached over a connection it opened.
      this.dropQueued(assoc, 'not connected, and the node does not listen');
      throw new PeerUnreachableError(assoc.node, 'not connected, and the node does not listen');
    }
    assoc.disconnectedSince ??= this.clock.now();
    const socket = this.settings.tls
      ? tls.connect({ ...this.settings.tls, host: address.host, port: address.port })
      : net.connect({ host: address.host, port: address.port, allowHalfOpen: true });
    assoc.dialing = this.createConnection(socket, assoc.node);
  }

  private accept(socket: net.Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    if (this.pending.size >= MAX_HANDSHAKING_CONNECTIONS) {
      socket.destroy();
      const pass = this.quietLog.admit('handshakes-full');
      if (pass) {
        this.log.warn(
          { remote: `${socket.remoteAddress}:${socket.remotePort}`, handshaking: this.pending.size, suppressed: pass.suppressed },
          'too many connections in their handshake: closed a new one',
        );
      }
      return;
    }
    this.pending.add(this.createConnection(socket, null));
  }

  /** `dialed` is the node we dialed, or null for an accepted connection. */
  private createConnection(socket: net.Socket, dialed: string | null): Connection {
    const settings: ConnectionSettings = { ...this.settings, keys: this.keys, node: this.node, uid: this.uid };
    return new Connection(
      socket,
      dialed !== null,
      settings,
      this.codec,
      {
        onOpen: (conn) => this.onOpen(conn),
        onEnvelope: (conn, envelope) => this.handlers.onEnvelope(conn.peer!.node, envelope, conn.peer!.role),
        onDrain: (conn) => {
          const assoc = conn.peer && this.associations.get(conn.peer.node);
          if (assoc?.conn === conn) this.flush(assoc);
        },
        onClose: (conn, kind, reason, code) => this.onClose(conn, kind, reason, code),
      },
      this.log,
      dialed,
    );
  }

  private onOpen(conn: Connection): void {
    this.pending.delete(conn);
    const peer = conn.peer!;
    let assoc: Association;
    try {
      assoc = this.association(peer.node, true);
    } catch (err) {
      conn.close('refused', (err as Error).message);
      return;
    }
    if (assoc.dialing === conn) assoc.dialing = null;
    if (assoc.conn && assoc.uid !== peer.uid) {
      // The peer restarted: whatever the old connection carried belonged to a dead incarnation.
      assoc.conn.close('lost', 'peer restarted');
      // That loss may have released the association (nothing queued): continue with the live one.
      assoc = this.association(peer.node, true);
    }
    const current = assoc.conn;
    if (current) {
      // The same dialer dialing again means it saw the old connection die: trust the new one.
      const keepNew =
        this.dialer(current) === this.dialer(conn) || this.dialer(conn) === (this.node < peer.node ? this.node : peer.node);
      if (!keepNew) {
        conn.retire();
        return;
      }
      assoc.conn = conn;
      current.retire();
    } else {
      assoc.conn = conn;
    }
    const wasDown = assoc.uid !== peer.uid || current === null;
    assoc.uid = peer.uid;
    assoc.refusal = null;
    assoc.reconnectAttempts = 0;
    assoc.disconnectedSince = null;
    this.log.debug({ peer: peer.node, initiator: conn.initiator }, 'connection open');
    if (wasDown) this.handlers.onPeerUp(peer.node);
    this.flush(assoc);
  }

  private dialer(conn: Connection): string {
    return conn.initiator ? this.node : conn.peer!.node;
  }

  private onClose(conn: Connection, kind: CloseKind, reason: string, code?: string): void {
    this.pending.delete(conn);
    const node = conn.expectedNode ?? conn.peer?.node;
    const assoc = node === undefined ? undefined : this.associations.get(node);
    if (!assoc) return;
    if (assoc.dialing === conn) {
      assoc.dialing = null;
      this.onDialFailed(assoc, conn, kind, reason, code);
      return;
    }
    if (assoc.conn !== conn) return; // a retired twin or a stale incarnation
    assoc.conn = null;
    if (this.stopped) return;
    assoc.disconnectedSince = this.clock.now();
    this.log.info({ peer: assoc.node, kind, reason }, 'connection lost');
    this.wakeDrainWaiters(assoc);
    this.handlers.onPeerLost(assoc.node, kind === 'heartbeat-timeout' ? 'heartbeat-timeout' : 'connection-lost', reason);
    if (assoc.batch.size > 0 && !this.stopped) this.scheduleReconnect(assoc, reason);
    this.releaseIfIdle(assoc);
  }

  private onDialFailed(assoc: Association, conn: Connection, kind: CloseKind, reason: string, code?: string): void {
    if (this.stopped) return this.dropQueued(assoc, 'the actor system is terminating');
    if (code !== undefined && PERMANENT_REFUSALS.has(code)) {
      // A wrong secret (or cluster id, version, port) stays wrong: fail now, never retry as if down.
      const refusal =
        code === HandshakeCode.AuthFailed
          ? new AuthFailedError(assoc.node, this.settings.cluster, conn.role, reason)
          : new HandshakeRefusedError(assoc.node, this.settings.cluster, code, reason);
      assoc.refusal = refusal;
      assoc.refusedUntil = this.clock.now() + this.settings.reconnect.giveUpAfterMs;
      this.handlers.onPeerLost(assoc.node, 'connection-lost', refusal.message, refusal);
      return this.dropQueued(assoc, refusal.message);
    }
    // Asks and watches waiting on this peer learn now; queued tells wait for the reconnect.
    this.handlers.onPeerLost(assoc.node, 'connection-lost', `cannot connect: ${reason}`);
    if (kind === 'refused') return this.dropQueued(assoc, `connection refused: ${reason}`);
    this.scheduleReconnect(assoc, reason);
  }

  private scheduleReconnect(assoc: Association, reason: string): void {
    const { initialDelayMs, maxDelayMs, giveUpAfterMs } = this.settings.reconnect;
    const now = this.clock.now();
    const downFor = now - (assoc.disconnectedSince ?? now);
    if (downFor >= giveUpAfterMs) {
      this.dropQueued(assoc, `unreachable for ${downFor} ms (${reason})`);
      return;
    }
    const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** assoc.reconnectAttempts);
    assoc.reconnectAttempts++;
    this.log.debug({ peer: assoc.node, delayMs: delay, attempt: assoc.reconnectAttempts, reason }, 'reconnecting');
    const reconnect = (): void => {
      assoc.reconnectTimer = null;
      if (assoc.conn || assoc.batch.size === 0) return this.releaseIfIdle(assoc);
      try {
        this.ensureConnecting(assoc);
      } catch {
        // ensureConnecting reported the queue as undeliverable already.
      }
    };
    assoc.reconnectTimer = this.clock.setTimeout(reconnect, delay, { unref: true });
  }

  private endGracefully(conn: Connection): void {
    conn.retire();
    // A peer that never answers the FIN must not keep us alive.
    this.clock.setTimeout(() => conn.close('local', 'transport stopped'), 1000, { unref: true });
  }

  private dropQueued(assoc: Association, reason: string): void {
    const messages = assoc.queuedMessages;
    assoc.batch.take();
    assoc.queuedMessages = 0;
    assoc.reconnectAttempts = 0;
    assoc.disconnectedSince = null;
    this.wakeDrainWaiters(assoc);
    if (messages > 0) {
      const pass = this.quietLog.admit('undeliverable');
      if (pass) this.log.warn({ peer: assoc.node, messages, reason, suppressed: pass.suppressed }, 'messages undeliverable');
      this.handlers.onUndeliverable(assoc.node, messages, reason);
    }
    this.releaseIfIdle(assoc);
  }
}


/** `host:port` node ids are dialable; client ids are not. */
export function parseNodeAddress(node: string): { host: string; port: number } | null {
  return parseHostPort(node);
}
