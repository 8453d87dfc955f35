/**
 * A hand-driven peer for bad-input tests: a plain socket that can complete a real handshake
 * and then write whatever bytes a test wants.
 */
import net from 'node:net';
import { once } from 'node:events';
import { Packr } from 'msgpackr';
import { FrameDecoder, encodeFrame } from '../../lib/transport/frame.js';
import { authMac, makeHello, type Hello } from '../../lib/transport/handshake.js';

const packr = new Packr({ useRecords: false });

export class RawPeer {
  readonly frames: unknown[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder(16 * 1024 * 1024);

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk, (frame) => this.frames.push(packr.unpack(frame)));
      } catch {
        // The test only cares about what it can read.
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => (this.closed = true));
  }

  static async connect(node: string): Promise<RawPeer> {
    const [host, port] = node.split(':');
    const socket = net.connect({ host: host!, port: Number(port) });
    await once(socket, 'connect');
    return new RawPeer(socket);
  }

  /** Complete the handshake as a legitimate peer of `cluster` with `secret`. */
  async handshake(cluster: string, secret: string): Promise<void> {
    const ours = makeHello(cluster, `client-raw-${process.pid}`, 'raw-uid');
    this.write(encodeFrame(packr.pack(ours)));
    const theirs = (await this.nextFrame()) as Hello;
    this.write(encodeFrame(packr.pack({ t: 'auth', mac: authMac(secret, ours, { ...theirs, nonce: Buffer.from(theirs.nonce) }) })));
    const auth = (await this.nextFrame()) as { t: string };
    if (auth.t !== 'auth') throw new Error(`handshake failed: ${JSON.stringify(auth)}`);
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
