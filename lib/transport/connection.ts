/**
 * One TCP (or TLS) connection to a peer node: the handshake, framing, heartbeats and a clean
 * close with a reason. It knows nothing of actors; the Transport decides what a connection is for.
 */
import type { Socket } from 'node:net';
import { Packr } from 'msgpackr';
import { ErrorCode } from '../errors.js';
import type { Logger } from '../logging.js';
import { FrameDecoder, FrameError, encodeFrame } from './frame.js';
import { DEFAULT_DECODE_BYTES_PER_FRAME_BYTE, checkDecodeBudget, type DecodeBudget } from './decode-budget.js';
import { LogThrottle } from '../util/log-throttle.js';
import { every, type Clock, type StopTimer, type TimerHandle } from '../util/clock.js';
import { HANDSHAKE_MAX_FRAME_BYTES, HandshakeDriver, Plane, type HandshakeKeys, type HandshakeStep, type Role, type VerifiedPeer } from './handshake.js';
import { EnvelopeKind, envelopeProblem, type Backlog, type Envelope } from './protocol.js';

/** Encodes and decodes envelopes; the actor system's codec knows how to carry ActorRefs. */
export interface WireCodec {
  encode(value: unknown): Uint8Array;
  /** Decodes `bytes[start, end)` (all of it by default): one value that fills the span exactly. */
  decode(bytes: Uint8Array, start?: number, end?: number): unknown;
}

export interface ConnectionSettings {
  cluster: string;
  /** The control plane's keys of this endpoint (node and/or client). */
  keys: HandshakeKeys;
  node: string;
  uid: string;
  /** Largest frame accepted once open (the handshake has its own, small one). */
  maxInboundFrameBytes: number;
  /** Bound on what one frame may decode to (estimated by a pre-scan, before decoding). */
  maxDecodedBytes: number;
  handshakeTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** Time of the handshake timeout, heartbeats and silence (the actor system's clock). */
  clock: Clock;
}

export type CloseKind = 'refused' | 'lost' | 'heartbeat-timeout' | 'protocol-error' | 'local';

export interface ConnectionHandlers {
  onOpen(conn: Connection): void;
  /** A Backlog when the envelope's target holds too much: reading pauses until it is relieved. */
  onEnvelope(conn: Connection, envelope: Envelope): Backlog | void;
  onDrain(conn: Connection): void;
  /** `code`: the handshake refusal's code, when the handshake was refused (either way). */
  onClose(conn: Connection, kind: CloseKind, reason: string, code?: string): void;
}

/**
 * Heartbeat trouble of every connection in this process, for the metrics (read at scrape time).
 * A miss is a tick at which the peer has been silent for more than 1.5 intervals: a healthy
 * idle peer sends one every interval, and the half interval absorbs timer jitter.
 */
export const heartbeatStats = { misses: 0, timeouts: 0 };

/** Refusals and bad input are whatever a stranger makes them: one line per kind per 10 s in this process. */
const refusalLog = new LogThrottle(10_000);

const HEARTBEAT_FRAME = encodeFrame(new Packr({ useRecords: false }).pack([EnvelopeKind.Heartbeat]));

export class Connection {
  state: 'handshaking' | 'open' | 'closed' = 'handshaking';
  private readonly handshake: HandshakeDriver;
  private readonly decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
  private readonly clock: Clock;
  private lastReceived: number;
  private wroteSinceTick = false;
  private handshakeTimer: TimerHandle | null;
  private stopHeartbeats: StopTimer | null = null;
  private readonly budget: DecodeBudget;
  /** Backlogs that reading waits for: the socket is paused while any is pending. */
  private readonly backlogs = new Set<Backlog>();
  /** A retired connection lost a tie-break to a twin: it drains and closes without being a loss. */
  retired = false;

  constructor(
    readonly socket: Socket,
    /** Whether this side dialed. */
    readonly initiator: boolean,
    private readonly settings: ConnectionSettings,
    private readonly codec: WireCodec,
    private readonly handlers: ConnectionHandlers,
    private readonly log: Logger,
    /** For a dialed connection: the node id we dialed, which the peer must announce. */
    readonly expectedNode: string | null = null,
  ) {
    this.clock = settings.clock;
    this.lastReceived = this.clock.now();
    this.budget = { perFrameByte: DEFAULT_DECODE_BYTES_PER_FRAME_BYTE, maxBytes: settings.maxDecodedBytes };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.handlers.onDrain(this));
    socket.on('error', (err) => this.close('lost', err.message));
    socket.on('end', () => {
      // The peer finished writing; for a retired twin that is the orderly end.
      if (this.retired) socket.end();
      this.close(this.retired ? 'local' : 'lost', 'peer closed the connection');
    });
    socket.on('close', () => this.close('lost', 'socket closed'));
    this.handshakeTimer = this.clock.setTimeout(
      () => this.onHandshakeStep(this.handshake.refuse('HANDSHAKE_TIMEOUT', `no handshake within ${settings.handshakeTimeoutMs} ms`)),
      settings.handshakeTimeoutMs,
    );
    this.handshake = new HandshakeDriver(
      { cluster: settings.cluster, plane: Plane.Control, node: settings.node, uid: settings.uid, keys: settings.keys },
      initiator,
      expectedNode,
      (frame) => socket.write(frame),
    );
  }

  /** The peer, once its handshake proof verified (null before: a hello's claims are no identity). */
  get peer(): VerifiedPeer | null {
    return this.handshake.peer;
  }

  /** The role we authenticate as on this connection. */
  get role(): Role {
    return this.handshake.role;
  }

  get remoteAddress(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  /** Bytes the kernel has not yet taken. */
  get writableLength(): number {
    return this.socket.writableLength;
  }

  get needsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** Write a batch of frames; returns false when the socket wants a drain before more. */
  write(batch: Buffer): boolean {
    this.wroteSinceTick = true;
    return this.socket.write(batch);
  }

  /** Stop using this connection and close it once the peer has finished writing to it. */
  retire(): void {
    if (this.state === 'closed' || this.retired) return;
    this.retired = true;
    this.stopTimers();
    this.socket.end();
  }

  close(kind: CloseKind, reason: string, code?: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopTimers();
    this.socket.destroy();
    this.handlers.onClose(this, kind, reason, code);
  }

  /** Close after our refusal frame went out, so that the peer learns its code. */
  private closeAfterRefusal(reason: string, code: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopTimers();
    this.socket.end();
    this.clock.setTimeout(() => this.socket.destroy(), 1000, { unref: true });
    this.handlers.onClose(this, 'refused', reason, code);
  }

  private onData(chunk: Buffer): void {
    this.lastReceived = this.clock.now();
    try {
      this.decoder.pushSpans(chunk, this.onSpan);
    } catch (err) {
      const reason = err instanceof FrameError ? err.message : `malformed frame: ${(err as Error).message}`;
      const pass = refusalLog.admit(`bad-input:${err instanceof FrameError ? err.code : 'malformed'}`);
      if (pass) this.log.warn({ peer: this.peer?.node, remote: this.remoteAddress, reason, suppressed: pass.suppressed }, 'closing connection on bad input');
      this.close('protocol-error', reason);
    }
  }

  private onHandshakeStep(step: HandshakeStep): void {
    if (this.state !== 'handshaking') return;
    switch (step.kind) {
      case 'continue':
        return;
      case 'refuse':
        // No peer name here: whatever its hello claimed was never proven. Our own codes: a small fixed set of kinds.
        if (refusalLog.admit(`refuse:${step.code}`)) {
          this.log.warn({ remote: this.remoteAddress, dialed: this.expectedNode ?? undefined, code: step.code, reason: step.reason }, 'connection refused');
        }
        return this.closeAfterRefusal(`${step.code}: ${step.reason}`, step.code);
      case 'refused':
        if (refusalLog.admit('refused')) {
          this.log.warn({ remote: this.remoteAddress, dialed: this.expectedNode ?? undefined, code: step.code, reason: step.reason }, 'peer refused the connection');
        }
        return this.close('refused', `${step.code}: ${step.reason}`, step.code);
      case 'open':
        this.state = 'open';
        if (this.handshakeTimer !== null) this.clock.clearTimeout(this.handshakeTimer);
        this.handshakeTimer = null;
        this.decoder.setMaxFrameBytes(this.settings.maxInboundFrameBytes);
        this.lastReceived = this.clock.now();
        this.stopHeartbeats = every(this.clock, this.settings.heartbeatIntervalMs, () => this.onHeartbeatTick(), { unref: true });
        this.handlers.onOpen(this);
    }
  }

  /** One frame, `source[start, end)`: a bound method, so that no closure is made per chunk. */
  private readonly onSpan = (source: Buffer, start: number, end: number): void => {
    if (this.state === 'open') this.onFrame(source, start, end);
    else if (this.state === 'handshaking') this.onHandshakeStep(this.handshake.onFrame(source.subarray(start, end)));
  };

  private onFrame(source: Buffer, start: number, end: number): void {
    // Throws FrameError (closing the connection) before decoding a frame that would cost too much.
    checkDecodeBudget(source, this.budget, start, end);
    let envelope: unknown;
    try {
      envelope = this.codec.decode(source, start, end);
    } catch (err) {
      throw new FrameError(ErrorCode.ProtocolViolation, `malformed frame: ${(err as Error).message}`);
    }
    const problem = envelopeProblem(envelope);
    if (problem) {
      if (refusalLog.admit('bad-envelope')) this.log.warn({ peer: this.peer?.node, reason: problem }, 'closing connection on bad input');
      this.close('protocol-error', problem);
      return;
    }
    if ((envelope as Envelope)[0] === EnvelopeKind.Heartbeat) return;
    try {
      const backlog = this.handlers.onEnvelope(this, envelope as Envelope);
      if (backlog) this.waitFor(backlog);
    } catch (err) {
      // A fault of ours, not the peer's: keep the connection, report loudly.
      this.log.error({ err, peer: this.peer?.node }, 'failed to dispatch an envelope');
    }
  }

  /**
   * Stop reading until `backlog` is relieved. The rest of the chunk at hand is still delivered
   * (bounded by a chunk); the kernel's buffers then fill and the sender's queue with them.
   */
  private waitFor(backlog: Backlog): void {
    if (this.backlogs.has(backlog)) return;
    this.backlogs.add(backlog);
    if (this.backlogs.size === 1) this.socket.pause();
    backlog.whenRelieved(() => {
      if (!this.backlogs.delete(backlog) || this.backlogs.size > 0 || this.state === 'closed') return;
      this.lastReceived = this.clock.now();
      this.socket.resume();
    });
  }

  private onHeartbeatTick(): void {
    // While we do not read, the peer's heartbeats wait in the kernel: its silence is ours.
    const now = this.clock.now();
    if (this.backlogs.size > 0) this.lastReceived = now;
    const silentFor = now - this.lastReceived;
    if (silentFor > this.settings.heartbeatIntervalMs * 1.5) heartbeatStats.misses++;
    if (silentFor > this.settings.heartbeatTimeoutMs) {
      heartbeatStats.timeouts++;
      this.log.warn({ peer: this.peer?.node, silentForMs: silentFor }, 'heartbeat timeout');
      this.close('heartbeat-timeout', `no heartbeat for ${silentFor} ms`);
      return;
    }
    if (!this.wroteSinceTick) this.socket.write(HEARTBEAT_FRAME);
    this.wroteSinceTick = false;
  }

  private stopTimers(): void {
    if (this.handshakeTimer !== null) this.clock.clearTimeout(this.handshakeTimer);
    this.stopHeartbeats?.();
    this.handshakeTimer = null;
    this.stopHeartbeats = null;
  }
}
