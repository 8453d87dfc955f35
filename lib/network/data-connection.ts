/**
 * One TCP data connection between two TaskExecutors, multiplexing every channel between them.
 * It opens with the same handshake as the control plane (lib/transport/handshake.ts), with
 * the data plane's own key (derived from the node secret; only nodes speak here), then carries
 * data frames (data-frames.ts). The peer's TaskExecutor id exists only once its proof verified. A frame that cannot
 * be decoded closes the connection with the reason logged: after a framing error nothing that
 * follows can be trusted.
 *
 * Writes are corked and uncorked on the next tick, so that the many small frames of one
 * event-loop turn go out in one writev while buffers are never copied. No write queue limit is
 * needed: credits bound what can be in flight.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../logging.js';
import { FrameDecoder, FrameError } from '../transport/frame.js';
import { HANDSHAKE_MAX_FRAME_BYTES, HandshakeDriver, Plane, type HandshakeKeys, type HandshakeStep, type VerifiedPeer } from '../transport/handshake.js';
import { DATA_HEARTBEAT_FRAME, decodeDataFrame, encodeDataMessage, isDataHeartbeat } from './data-frames.js';
import { DataProtocolError } from './errors.js';
import type { DataMessage } from './messages.js';
import { every, type Clock, type StopTimer, type TimerHandle } from '../util/clock.js';

export interface DataConnectionSettings {
  readonly cluster: string;
  /** The data plane's keys: the node key only. */
  readonly keys: HandshakeKeys;
  /** This TaskExecutor's id: the `node` of its hello. */
  readonly node: string;
  /** Unique per TaskRunner instance. */
  readonly uid: string;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  /** An open connection with nothing to send sends a heartbeat this often. */
  readonly heartbeatIntervalMs: number;
  /** An open connection that received nothing, not even a heartbeat, for this long is closed. */
  readonly idleTimeoutMs: number;
  /** Time of the handshake timeout, heartbeats and idleness. */
  readonly clock: Clock;
}

export interface DataConnectionHandlers {
  onOpen(conn: DataConnection): void;
  onMessage(conn: DataConnection, msg: DataMessage): void;
  /** `local`: closed by us on purpose. `code`: the handshake refusal's code, if it was refused. */
  onClose(conn: DataConnection, reason: string, local: boolean, code?: string): void;
}

export class DataConnection {
  state: 'handshaking' | 'open' | 'closed' = 'handshaking';
  private readonly handshake: HandshakeDriver;
  private readonly decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
  private readonly clock: Clock;
  private handshakeTimer: TimerHandle | null;
  private stopHeartbeats: StopTimer | null = null;
  private lastReceived: number;
  private wroteSinceTick = false;
  /** Messages sent before the handshake completed, in order. */
  private early: DataMessage[] = [];
  private corked = false;

  constructor(
    readonly socket: Socket,
    private readonly settings: DataConnectionSettings,
    private readonly handlers: DataConnectionHandlers,
    private readonly log: Logger,
    /** For a dialed connection: the TaskExecutor we meant to reach. */
    readonly expectedNode: string | null,
  ) {
    this.clock = settings.clock;
    this.lastReceived = this.clock.now();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.close(err.message, false));
    socket.on('end', () => this.close('peer closed the connection', false));
    socket.on('close', () => this.close('socket closed', false));
    this.handshakeTimer = this.clock.setTimeout(
      () => this.onHandshakeStep(this.handshake.refuse('HANDSHAKE_TIMEOUT', `no handshake within ${settings.handshakeTimeoutMs} ms`)),
      settings.handshakeTimeoutMs,
    );
    this.handshake = new HandshakeDriver(
      { cluster: settings.cluster, plane: Plane.Data, node: settings.node, uid: settings.uid, keys: settings.keys },
      expectedNode !== null,
      expectedNode,
      (frame) => socket.write(frame),
    );
  }

  /** The peer once its proof verified (`peer.node` is its TaskExecutor id); null before. */
  get peer(): VerifiedPeer | null {
    return this.handshake.peer;
  }

  get remoteAddress(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  /** Sends a data message, or holds it until the handshake is done. */
  send(msg: DataMessage): void {
    if (this.state === 'closed') return;
    if (this.state === 'handshaking') {
      this.early.push(msg);
      return;
    }
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.wroteSinceTick = true;
    for (const chunk of encodeDataMessage(msg)) this.socket.write(chunk);
  }

  close(reason: string, local: boolean, code?: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.handshakeTimer !== null) this.clock.clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    this.stopHeartbeats?.();
    this.stopHeartbeats = null;
    this.early = [];
    if (local) this.socket.end();
    else this.socket.destroy();
    this.handlers.onClose(this, reason, local, code);
  }

  /** Close after our refusal frame went out, so that the peer learns its code. */
  private closeAfterRefusal(reason: string, code: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.handshakeTimer !== null) this.clock.clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    this.early = [];
    this.socket.end();
    this.clock.setTimeout(() => this.socket.destroy(), 1000, { unref: true });
    this.handlers.onClose(this, reason, false, code);
  }

  private onData(chunk: Buffer): void {
    this.lastReceived = this.clock.now();
    try {
      this.decoder.push(chunk, (frame) => {
        if (this.state === 'open') {
          if (!isDataHeartbeat(frame)) this.dispatch(decodeDataFrame(frame));
        } else if (this.state === 'handshaking') this.onHandshakeStep(this.handshake.onFrame(frame));
      });
    } catch (err) {
      if (err instanceof FrameError || err instanceof DataProtocolError) {
        this.log.warn({ remote: this.remoteAddress, peer: this.peer?.node, reason: err.message, code: err.code }, 'closing data connection on bad input');
        this.close(err.message, false);
        return;
      }
      throw err;
    }
  }

  /**
   * A peer sends at least a heartbeat every interval; one silent past the idle timeout is dead,
   * or holds a connection it does not use: either way the connection goes.
   */
  private onHeartbeatTick(): void {
    const silentFor = this.clock.now() - this.lastReceived;
    if (silentFor > this.settings.idleTimeoutMs) {
      this.log.warn({ remote: this.remoteAddress, peer: this.peer?.node, silentForMs: silentFor }, 'data connection idle: closing it');
      this.close(`nothing received for ${silentFor} ms`, false);
      return;
    }
    if (!this.wroteSinceTick) this.socket.write(DATA_HEARTBEAT_FRAME);
    this.wroteSinceTick = false;
  }

  private dispatch(msg: DataMessage): void {
    try {
      this.handlers.onMessage(this, msg);
    } catch (err) {
      // A fault of ours, not the peer's: keep the connection, report loudly.
      this.log.error({ err, peer: this.peer?.node, channel: msg.ch }, 'failed to route a data message');
    }
  }

  private onHandshakeStep(step: HandshakeStep): void {
    if (this.state !== 'handshaking') return;
    switch (step.kind) {
      case 'continue':
        return;
      case 'refuse':
        // No peer name: whatever its hello claimed was never proven.
        this.log.warn({ remote: this.remoteAddress, dialed: this.expectedNode ?? undefined, code: step.code, reason: step.reason }, 'data connection refused');
        return this.closeAfterRefusal(`${step.code}: ${step.reason}`, step.code);
      case 'refused':
        this.log.warn({ remote: this.remoteAddress, dialed: this.expectedNode ?? undefined, code: step.code, reason: step.reason }, 'peer refused the data connection');
        return this.close(`${step.code}: ${step.reason}`, false, step.code);
      case 'open': {
        this.state = 'open';
        if (this.handshakeTimer !== null) this.clock.clearTimeout(this.handshakeTimer);
        this.handshakeTimer = null;
        this.decoder.setMaxFrameBytes(this.settings.maxFrameBytes);
        this.lastReceived = this.clock.now();
        this.stopHeartbeats = every(this.clock, this.settings.heartbeatIntervalMs, () => this.onHeartbeatTick(), { unref: true });
        this.handlers.onOpen(this);
        const early = this.early;
        this.early = [];
        for (const msg of early) this.send(msg);
      }
    }
  }
}
