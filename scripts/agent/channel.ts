/**
 * One connection of the agent protocol, on either side: the handshake of lib/transport on the
 * agent plane (node role, keys from the cluster's node secret), then length-prefixed MessagePack
 * frames, each bounded in size and checked against the decode budget before it is decoded.
 * Nothing reaches `onMessage` before the peer's proof verified.
 */
import type { Socket } from 'node:net';
import { Packr } from 'msgpackr';
import { FrameDecoder, FrameError, encodeFrame } from '../../lib/transport/frame.js';
import { checkDecodeBudget, DEFAULT_DECODE_BYTES_PER_FRAME_BYTE } from '../../lib/transport/decode-budget.js';
import { HANDSHAKE_MAX_FRAME_BYTES, HandshakeDriver, HandshakeKeys, Plane, type HandshakeStep, type VerifiedPeer } from '../../lib/transport/handshake.js';
import { HandshakeCode } from '../../lib/transport/errors.js';
import { ErrorCode } from '../../lib/errors.js';

const packr = new Packr({ useRecords: false });

export interface ChannelSettings {
  clusterId: string;
  /** The cluster's node secret: the agent plane serves the node role only. */
  secret: string;
  /** Our id in the handshake: the agent's `host:port`, or the drill's `drill-…`. */
  node: string;
  uid: string;
  handshakeTimeoutMs: number;
  /** Largest frame accepted once open. */
  maxFrameBytes: number;
  /** Bound on what one frame may decode to. */
  maxDecodedBytes: number;
}

export interface ChannelHandlers {
  onOpen(peer: VerifiedPeer): void;
  onMessage(value: unknown): void;
  /** `code`: the handshake refusal's code or FRAME_TOO_LARGE etc. */
  onClose(reason: string, code: string | null): void;
}

export class AgentChannel {
  state: 'handshaking' | 'open' | 'closed' = 'handshaking';
  private readonly decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
  private readonly handshake: HandshakeDriver;
  private timer: NodeJS.Timeout | null;

  constructor(
    readonly socket: Socket,
    dialer: boolean,
    /** The dialer's expectation of the agent's id (its address). */
    expectedNode: string | null,
    private readonly settings: ChannelSettings,
    private readonly handlers: ChannelHandlers,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.close(err.message, null));
    socket.on('close', () => this.close('connection closed', null));
    this.timer = setTimeout(() => this.onStep(this.handshake.refuse(HandshakeCode.HandshakeTimeout, `no handshake within ${settings.handshakeTimeoutMs} ms`)), settings.handshakeTimeoutMs);
    this.timer.unref();
    const keys = HandshakeKeys.derive(settings.clusterId, Plane.Agent, { node: settings.secret, client: null });
    this.handshake = new HandshakeDriver({ cluster: settings.clusterId, plane: Plane.Agent, node: settings.node, uid: settings.uid, keys }, dialer, expectedNode, (frame) => socket.write(frame));
  }

  get peer(): VerifiedPeer | null {
    return this.handshake.peer;
  }

  get remoteAddress(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  send(value: unknown): void {
    if (this.state === 'open') this.socket.write(encodeFrame(packr.pack(value)));
  }

  close(reason: string, code: string | null): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.timer) clearTimeout(this.timer);
    this.socket.destroy();
    this.handlers.onClose(reason, code);
  }

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk, (frame) => {
        if (this.state === 'handshaking') this.onStep(this.handshake.onFrame(frame));
        else if (this.state === 'open') this.onFrame(frame);
      });
    } catch (err) {
      this.close(err instanceof Error ? err.message : String(err), err instanceof FrameError ? err.code : null);
    }
  }

  private onFrame(frame: Buffer): void {
    // Throws FrameError (closing the connection) before decoding a frame that would cost too much.
    checkDecodeBudget(frame, { perFrameByte: DEFAULT_DECODE_BYTES_PER_FRAME_BYTE, maxBytes: this.settings.maxDecodedBytes });
    let value: unknown;
    try {
      value = packr.unpack(frame);
    } catch (err) {
      throw new FrameError(ErrorCode.ProtocolViolation, `malformed frame: ${(err as Error).message}`);
    }
    this.handlers.onMessage(value);
  }

  private onStep(step: HandshakeStep): void {
    if (this.state !== 'handshaking') return;
    switch (step.kind) {
      case 'continue':
        return;
      case 'refuse':
      case 'refused': {
        // Our refusal goes out before the close, so that the peer learns its code.
        this.state = 'closed';
        if (this.timer) clearTimeout(this.timer);
        this.socket.end();
        setTimeout(() => this.socket.destroy(), 1000).unref();
        this.handlers.onClose(`${step.kind === 'refuse' ? 'refused' : 'refused by the peer'}: ${step.code}: ${step.reason}`, step.code);
        return;
      }
      case 'open':
        this.state = 'open';
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        this.decoder.setMaxFrameBytes(this.settings.maxFrameBytes);
        this.handlers.onOpen(step.peer);
    }
  }
}
