/**
 * A hand-driven peer for bad-input and attack tests: a plain socket that speaks the wire
 * protocol by hand. It can complete a real handshake (when given a secret), or send any hello
 * and any proof an attacker would, and records every frame the other side sends.
 */
import net from 'node:net';
import { once } from 'node:events';
import { Packr } from 'msgpackr';
import { FrameDecoder, encodeFrame } from '../../lib/transport/frame.js';
import { deriveKey, makeHello, Plane, proofMac, Role, verifyProof, type Hello } from '../../lib/transport/handshake.js';

const packr = new Packr({ useRecords: false });

export interface HandshakeAs {
  /** `control` (actor messages) by default, or `data` (a TaskExecutor's data port). */
  plane?: Plane;
  /** `node` by default; a client's id starts with `client-`. */
  role?: Role;
  node?: string;
}

export class RawPeer {
  readonly frames: unknown[] = [];
  /** Every frame received, also those taken by nextFrame: what the other side ever revealed. */
  readonly seen: unknown[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder(16 * 1024 * 1024);

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk, (frame) => {
          const value = packr.unpack(frame);
          this.frames.push(value);
          this.seen.push(value);
        });
      } catch {
        // The test only cares about what it can read.
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => (this.closed = true));
  }

  /** A raw peer over a Unix socket (e.g. forwarded into a namespace host by test/fixtures/unix-forward.ts). */
  static async connectPath(socketPath: string): Promise<RawPeer> {
    const socket = net.connect({ path: socketPath });
    await once(socket, 'connect');
    return new RawPeer(socket);
  }

  static async connect(node: string): Promise<RawPeer> {
    const [host, port] = node.split(':');
    const socket = net.connect({ host: host!, port: Number(port) });
    await once(socket, 'connect');
    return new RawPeer(socket);
  }

  /** Complete the handshake as a legitimate dialer holding `secret` for its role. */
  async handshake(cluster: string, secret: string, as: HandshakeAs = {}): Promise<void> {
    const plane = as.plane ?? Plane.Control;
    const role = as.role ?? Role.Node;
    const ours = makeHello(cluster, plane, role, as.node ?? (role === Role.Client ? `client-raw-${process.pid}` : `raw-${process.pid}`), 'raw-uid');
    this.sendHello(ours);
    const theirs = this.asHello(await this.nextFrame());
    const key = deriveKey(secret, cluster, plane, role);
    this.sendProof(proofMac(key, 'dialer', ours, theirs));
    const answer = (await this.nextFrame()) as { t: string; mac?: Uint8Array };
    if (answer.t !== 'auth' || !verifyProof(key, 'acceptor', ours, theirs, answer.mac!)) throw new Error(`handshake failed: ${JSON.stringify(answer)}`);
  }

  /** The other side's hello, with its nonce as a Buffer (as we would echo it back). */
  asHello(frame: unknown): Hello {
    const h = frame as Hello;
    if (h?.t !== 'hello') throw new Error(`expected a hello, got ${JSON.stringify(frame)}`);
    return { ...h, nonce: Buffer.from(h.nonce) };
  }

  sendHello(hello: Hello): void {
    this.write(encodeFrame(packr.pack(hello)));
  }

  sendProof(mac: Uint8Array): void {
    this.write(encodeFrame(packr.pack({ t: 'auth', mac: Buffer.from(mac) })));
  }

  /** The `auth` frames (MACs) the other side ever sent us. */
  macsSeen(): Buffer[] {
    return this.seen.filter((f) => (f as { t?: string })?.t === 'auth').map((f) => Buffer.from((f as { mac: Uint8Array }).mac));
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  sendEnvelope(value: unknown): void {
    this.write(encodeFrame(packr.pack(value)));
  }

  async nextFrame(timeoutMs = 5000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed || Date.now() > deadline) throw new Error('no frame from the peer');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return this.frames.shift();
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error(`the peer did not close the connection within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}
