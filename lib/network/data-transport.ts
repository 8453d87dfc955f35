/**
 * The data connections of one TaskExecutor: a TCP server for peers that dial in, and dialed
 * connections to peers it sends to. One connection per pair of TaskExecutors carries every
 * channel between them in both directions; if both dial at the same moment, each side keeps
 * sending on the connection it chose first (order per channel only needs one sender side to
 * stick to one connection), and both connections stay usable for receiving.
 *
 * A lost connection is reported to the owner (the TaskRunner), which fails the tasks whose
 * channels crossed it: buffers may have been lost, so the job must restart (Flink does the
 * same on a RemoteTransportException).
 */
import { randomUUID } from 'node:crypto';
import { createConnection, createServer, type Server } from 'node:net';
import type { Logger } from '../logging.js';
import { formatHostPort, parseHostPort } from '../util/host-address.js';
import { HandshakeKeys, Plane } from '../transport/handshake.js';
import { MAX_HANDSHAKING_CONNECTIONS } from '../transport/transport.js';
import { DataConnection, type DataConnectionSettings } from './data-connection.js';
import type { DataMessage } from './messages.js';
import { realClock, type Clock } from '../util/clock.js';

export interface DataTransportOptions {
  /** This TaskExecutor's id. */
  readonly node: string;
  /** Bind address of the data server. */
  readonly host: string;
  /** The host peers dial, in the data address sent at registration (default: `host`). */
  readonly advertisedHost?: string;
  readonly clusterId: string;
  /** The node secret: the data plane's key is derived from it (clients have no access here). */
  readonly secret: string;
  readonly log: Logger;
  /** A data message from a peer. */
  readonly onMessage: (msg: DataMessage, peer: string) => void;
  /** The connection to a peer closed unexpectedly. */
  readonly onPeerLost: (peer: string, reason: string) => void;
  readonly maxFrameBytes?: number;
  readonly handshakeTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** An open data connection silent (no data, no heartbeat) for this long is closed. */
  readonly idleTimeoutMs?: number;
  /** Time of the connections' handshakes, heartbeats and idleness (the real clock by default). */
  readonly clock?: Clock;
}

/** Where to reach a peer: its TaskExecutor id and `host:port`. */
export interface DataPeer {
  readonly taskExecutorId: string;
  readonly dataAddress: string;
}

export class DataTransport {
  private server: Server | null = null;
  private readonly settings: DataConnectionSettings;
  /** The connection this side sends on, per peer. */
  private readonly senders = new Map<string, DataConnection>();
  private readonly all = new Set<DataConnection>();
  private stopped = false;
  address = '';

  constructor(private readonly options: DataTransportOptions) {
    this.settings = {
      cluster: options.clusterId,
      keys: HandshakeKeys.derive(options.clusterId, Plane.Data, { node: options.secret, client: null }),
      node: options.node,
      uid: randomUUID(),
      maxFrameBytes: options.maxFrameBytes ?? 64 * 1024 * 1024,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1000,
      idleTimeoutMs: options.idleTimeoutMs ?? 10_000,
      clock: options.clock ?? realClock,
    };
  }

  /** Listens on an ephemeral port of `host`; resolves with `advertisedHost:port`, the data address. */
  async start(): Promise<string> {
    const server = createServer((socket) => {
      if (this.stopped) return socket.destroy();
      // Strangers may not hold sockets without limit: each handshake lasts at most handshakeTimeoutMs.
      let handshaking = 0;
      for (const conn of this.all) if (conn.state === 'handshaking') handshaking++;
      if (handshaking >= MAX_HANDSHAKING_CONNECTIONS) return socket.destroy();
      this.track(new DataConnection(socket, this.settings, this.handlers, this.options.log, null));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('data server has no TCP address');
    this.address = formatHostPort(this.options.advertisedHost || this.options.host, addr.port);
    return this.address;
  }

  /** Sends to a peer, dialing it first if there is no connection yet. */
  send(peer: DataPeer, msg: DataMessage): void {
    if (this.stopped) return;
    let conn = this.senders.get(peer.taskExecutorId);
    if (conn === undefined) {
      const address = parseHostPort(peer.dataAddress);
      if (!address) {
        // Nobody can be dialed there (the ResourceManager admits no such address): the peer is lost
        // to the tasks that send to it, as if its connection had failed.
        const reason = `data address '${peer.dataAddress}' is not host:port`;
        this.options.log.warn({ peer: peer.taskExecutorId, reason }, 'data connection not possible');
        queueMicrotask(() => this.options.onPeerLost(peer.taskExecutorId, reason));
        return;
      }
      conn = this.dial(peer.taskExecutorId, address);
      this.senders.set(peer.taskExecutorId, conn);
    }
    conn.send(msg);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const conn of this.all) conn.close('stopping', true);
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private dial(taskExecutorId: string, address: { host: string; port: number }): DataConnection {
    const socket = createConnection(address);
    const conn = new DataConnection(socket, this.settings, this.handlers, this.options.log, taskExecutorId);
    this.track(conn);
    return conn;
  }

  private track(conn: DataConnection): void {
    this.all.add(conn);
  }

  private readonly handlers = {
    onOpen: (conn: DataConnection): void => {
      const peer = conn.peer!.node;
      // A peer that dialed us: use its connection to send too, unless we already have one.
      if (!this.senders.has(peer)) this.senders.set(peer, conn);
      this.options.log.debug({ peer, remote: conn.remoteAddress }, 'data connection open');
    },
    onMessage: (conn: DataConnection, msg: DataMessage): void => {
      this.options.onMessage(msg, conn.peer!.node);
    },
    onClose: (conn: DataConnection, reason: string, local: boolean): void => {
      this.all.delete(conn);
      // Only a proven identity, or the one we dialed ourselves: an inbound stranger that claimed
      // to be some TaskExecutor and failed its proof names nobody, and fails nothing.
      const peer = conn.peer?.node ?? conn.expectedNode;
      if (peer === null) return;
      if (this.senders.get(peer) === conn) this.senders.delete(peer);
      if (local || this.stopped) return;
      this.options.log.warn({ peer, reason }, 'data connection lost');
      this.options.onPeerLost(peer, reason);
    },
  };
}
