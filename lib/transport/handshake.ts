/**
 * The handshake that opens every connection. It is symmetric: each side sends `hello` with its
 * protocol version, cluster id, node id, incarnation uid and a fresh random nonce; each side
 * answers the other's hello with `auth`, an HMAC over the peer's nonce, its own nonce and both
 * node ids, keyed by the cluster's shared secret. A side is open once it has verified the peer's
 * auth. Either side may send `refuse` (with a code and reason) and close.
 *
 * Both nonces enter each MAC, so a recorded auth cannot be replayed on another connection, and
 * the secret never crosses the wire.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Packr } from 'msgpackr';
import { encodeFrame } from './frame.js';
import { PROTOCOL_VERSION } from './protocol.js';

export interface Hello {
  t: 'hello';
  version: number;
  cluster: string;
  node: string;
  uid: string;
  nonce: Buffer;
}
export interface Auth {
  t: 'auth';
  mac: Buffer;
}
export interface Refuse {
  t: 'refuse';
  code: string;
  reason: string;
}
export type HandshakeMessage = Hello | Auth | Refuse;

/** Frames before authentication are small; a peer that sends more is refused. */
export const HANDSHAKE_MAX_FRAME_BYTES = 4096;

export function makeHello(cluster: string, node: string, uid: string): Hello {
  return { t: 'hello', version: PROTOCOL_VERSION, cluster, node, uid, nonce: randomBytes(32) };
}

/** The MAC that `signer` sends to prove it knows the secret, bound to both hellos. */
export function authMac(secret: string, signer: Hello, verifier: Hello): Buffer {
  return createHmac('sha256', secret)
    .update('flinkish-auth-v1\0')
    .update(signer.node)
    .update('\0')
    .update(verifier.node)
    .update('\0')
    .update(verifier.nonce)
    .update(signer.nonce)
    .digest();
}

export function verifyAuth(secret: string, signer: Hello, verifier: Hello, mac: Buffer): boolean {
  const expected = authMac(secret, signer, verifier);
  return mac.length === expected.length && timingSafeEqual(mac, expected);
}

/** Why a peer's hello cannot be accepted, or null when it can. */
export function helloProblem(ours: Hello, theirs: unknown): { code: string; reason: string } | null {
  if (!isHello(theirs)) return { code: 'BAD_HELLO', reason: 'first frame is not a valid hello' };
  if (theirs.version !== ours.version) {
    return { code: 'VERSION_MISMATCH', reason: `protocol version ${theirs.version} is not ${ours.version}` };
  }
  if (theirs.cluster !== ours.cluster) {
    return { code: 'CLUSTER_MISMATCH', reason: `cluster id '${theirs.cluster}' is not '${ours.cluster}'` };
  }
  if (theirs.node === ours.node && theirs.uid === ours.uid) return { code: 'SELF_CONNECT', reason: 'connected to itself' };
  return null;
}

function isHello(v: unknown): v is Hello {
  if (typeof v !== 'object' || v === null) return false;
  const h = v as Record<string, unknown>;
  return (
    h['t'] === 'hello' &&
    typeof h['version'] === 'number' &&
    typeof h['cluster'] === 'string' &&
    typeof h['node'] === 'string' &&
    typeof h['uid'] === 'string' &&
    h['nonce'] instanceof Uint8Array &&
    h['nonce'].length === 32
  );
}

export function isAuth(v: unknown): v is Auth {
  return typeof v === 'object' && v !== null && (v as Auth).t === 'auth' && (v as Auth).mac instanceof Uint8Array;
}

export function isRefuse(v: unknown): v is Refuse {
  return typeof v === 'object' && v !== null && (v as Refuse).t === 'refuse';
}

/** What the driver decided after a handshake frame. */
export type HandshakeStep =
  | { kind: 'continue' }
  /** The peer proved it knows the secret: the connection is open. */
  | { kind: 'open'; peer: Hello }
  /** We refuse the peer (the refusal frame has been sent): close and log. */
  | { kind: 'refuse'; code: string; reason: string }
  /** The peer refused us: close and log. */
  | { kind: 'refused'; code: string; reason: string };

const handshakePackr = new Packr({ useRecords: false });

/** One handshake frame on the wire (length-prefixed MessagePack). */
export function handshakeFrame(msg: HandshakeMessage): Buffer {
  return encodeFrame(handshakePackr.pack(msg));
}

/**
 * The handshake of one connection, shared by the control plane's connections and the data
 * plane's: it sends our hello at once, then turns each frame the peer sends into a step. The
 * caller owns the socket, the timer and what `open` means.
 */
export class HandshakeDriver {
  readonly hello: Hello;
  peer: Hello | null = null;

  constructor(
    private readonly settings: { cluster: string; secret: string; node: string; uid: string },
    /** For a dialed connection: the node id the peer must announce. */
    private readonly expectedNode: string | null,
    private readonly write: (frame: Buffer) => void,
  ) {
    this.hello = makeHello(settings.cluster, settings.node, settings.uid);
    write(handshakeFrame(this.hello));
  }

  onFrame(frame: Buffer): HandshakeStep {
    let msg: unknown;
    try {
      msg = handshakePackr.unpack(frame);
    } catch {
      return this.refuse('BAD_HANDSHAKE', 'handshake frame is not MessagePack');
    }
    if (isRefuse(msg)) return { kind: 'refused', code: msg.code, reason: msg.reason };
    if (this.peer === null) {
      const problem = helloProblem(this.hello, msg);
      if (problem) return this.refuse(problem.code, problem.reason);
      const hello = msg as Hello;
      if (this.expectedNode !== null && hello.node !== this.expectedNode) {
        return this.refuse('WRONG_NODE', `dialed ${this.expectedNode} but the peer is ${hello.node}`);
      }
      this.peer = hello;
      this.write(handshakeFrame({ t: 'auth', mac: authMac(this.settings.secret, this.hello, hello) }));
      return { kind: 'continue' };
    }
    if (!isAuth(msg) || !verifyAuth(this.settings.secret, this.peer, this.hello, Buffer.from(msg.mac))) {
      return this.refuse('AUTH_FAILED', 'the peer does not know the cluster secret');
    }
    return { kind: 'open', peer: this.peer };
  }

  /** Send a refusal (also for the caller's own reasons, e.g. a handshake timeout). */
  refuse(code: string, reason: string): HandshakeStep {
    this.write(handshakeFrame({ t: 'refuse', code, reason }));
    return { kind: 'refuse', code, reason };
  }
}
