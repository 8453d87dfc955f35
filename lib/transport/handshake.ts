/**
 * The handshake that opens every connection, on the control plane (actor messages) and on the
 * data plane (records between TaskExecutors). It authenticates both sides with a shared secret
 * and never lets one side's proof serve as the other's.
 *
 * Keys: never the secret itself, but one key per purpose, derived with HKDF-SHA256 (RFC 5869):
 * `K(role, plane) = HKDF(secret, salt = "flinkish-handshake-v2", info = cluster ‖ plane ‖ role)`.
 * Roles are `node` (Masters and TaskExecutors, from the node secret) and `client` (the CLI and
 * ClusterClient, from the client secret). A MAC made with the data plane's key is a MAC under
 * an unrelated key on the control plane, and a client key proves nothing about a node.
 *
 * Protocol (D dials A):
 * 1. **hellos**: each side sends at once `hello` = {version, cluster, plane, role, node id,
 *    incarnation uid, 32 fresh random bytes of nonce}. Nothing in a hello is trusted yet: the
 *    receiver only checks that the shape, version, cluster id and plane match (a mismatch is
 *    refused with its code: a dialer at the wrong port or of another cluster learns why), and,
 *    on A, that it serves the role D claims. The node id in a hello is only a claim; no log line,
 *    loss report or association uses it before step 3 verifies it.
 * 2. **dialer's proof**: once D has A's hello, it sends `auth` with
 *    `HMAC(K(D.role, plane), "dialer" ‖ transcript)`, where the transcript is every field of
 *    both hellos (D's, then A's). A's nonce is fresh, so the proof cannot be a recording; it
 *    names A's node id and uid, so it is worthless at any other node.
 * 3. **acceptor verifies, then proves**: A verifies D's proof (constant-time). If it does not
 *    verify, A sends `refuse` AUTH_FAILED, with no MAC of its own, and closes: an unverified
 *    dialer gets nothing computed with the key. Only if it verifies, A sends its own `auth` =
 *    `HMAC(K(D.role, plane), "acceptor" ‖ transcript)` and the connection is open on A's side,
 *    with D's identity (node id, uid, role) now proven.
 * 4. **dialer verifies**: D verifies A's proof the same way (refusing AUTH_FAILED when it does
 *    not), and only then is the connection open on D's side.
 *
 * Why reflection fails: a MAC exists only for one direction (distinct labels), one plane and
 * role (distinct keys) and one pair of fresh nonces. An attacker who claims to be S to T must
 * produce a *dialer* proof over T's hello. Acceptors never compute dialer proofs, and answer
 * only verified dialers; a dialer computes one only over the hello of the node id it dialed
 * (it refuses WRONG_NODE first), so a node that dials the attacker proves itself to the
 * attacker's id, never to T's. No node, on either plane, can be made to compute it (across
 * planes the keys differ too). Replaying an old proof fails on the fresh nonce.
 *
 * What it does not do: it authenticates the start of a connection, not every frame after it;
 * someone who can rewrite packets in flight could hijack an open connection. On loopback that
 * needs root; across hosts use mutual TLS (see the README), which this handshake runs inside.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { Packr } from 'msgpackr';
import { encodeFrame } from './frame.js';
import { PROTOCOL_VERSION } from './protocol.js';
import { HandshakeCode } from './errors.js';

/** `agent`: the drill's fault agents (scripts/agent/), with keys of their own: no agent proof serves a cluster port. */
export const Plane = { Control: 'control', Data: 'data', Agent: 'agent' } as const;
export type Plane = (typeof Plane)[keyof typeof Plane];

export const Role = { Node: 'node', Client: 'client' } as const;
export type Role = (typeof Role)[keyof typeof Role];

export interface Hello {
  t: 'hello';
  version: number;
  cluster: string;
  plane: Plane;
  /** The role the sender authenticates as (an acceptor always answers as `node`). */
  role: Role;
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

/** A peer whose proof verified: the only identity anything may use. */
export interface VerifiedPeer {
  node: string;
  uid: string;
  role: Role;
}

/** Frames before authentication are small; a peer that sends more is refused. */
export const HANDSHAKE_MAX_FRAME_BYTES = 4096;

/** Client ids are not dialable addresses, so that no client can stand in for a node. */
export const CLIENT_NODE_PREFIX = 'client-';

const HKDF_SALT = 'flinkish-handshake-v2';
const MAC_LABEL = 'flinkish-handshake-v2-proof';
export type Direction = 'dialer' | 'acceptor';

/** The key of one role on one plane of one cluster (see the header). */
export function deriveKey(secret: string, cluster: string, plane: Plane, role: Role): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, `${cluster}\0${plane}\0${role}`, 32));
}

/**
 * The keys an endpoint holds on one plane: the node key if it is a node, the client key if it
 * serves clients (a Master) or is a client.
 */
export class HandshakeKeys {
  private constructor(
    private readonly node: Buffer | null,
    private readonly client: Buffer | null,
  ) {}

  static derive(cluster: string, plane: Plane, secrets: { node: string | null; client: string | null }): HandshakeKeys {
    return new HandshakeKeys(
      secrets.node === null ? null : deriveKey(secrets.node, cluster, plane, Role.Node),
      secrets.client === null ? null : deriveKey(secrets.client, cluster, plane, Role.Client),
    );
  }

  /** The role this endpoint dials as: a node if it holds the node key, else a client. */
  get ownRole(): Role {
    return this.node !== null ? Role.Node : Role.Client;
  }

  keyFor(role: Role): Buffer | null {
    return role === Role.Node ? this.node : this.client;
  }
}

export function makeHello(cluster: string, plane: Plane, role: Role, node: string, uid: string): Hello {
  return { t: 'hello', version: PROTOCOL_VERSION, cluster, plane, role, node, uid, nonce: randomBytes(32) };
}

const handshakePackr = new Packr({ useRecords: false });

function helloFields(h: Hello): unknown[] {
  return [h.version, h.cluster, h.plane, h.role, h.node, h.uid, Buffer.from(h.nonce)];
}

/** The proof of one direction over the whole transcript (both hellos, dialer's first). */
export function proofMac(key: Buffer, direction: Direction, dialer: Hello, acceptor: Hello): Buffer {
  // MessagePack of an array: every field is length-prefixed, so no two transcripts encode alike.
  const transcript = handshakePackr.pack([MAC_LABEL, direction, ...helloFields(dialer), ...helloFields(acceptor)]);
  return createHmac('sha256', key).update(transcript).digest();
}

export function verifyProof(key: Buffer, direction: Direction, dialer: Hello, acceptor: Hello, mac: Uint8Array): boolean {
  const expected = proofMac(key, direction, dialer, acceptor);
  return mac.length === expected.length && timingSafeEqual(Buffer.from(mac), expected);
}

/** Why a peer's hello cannot be accepted, or null when it can (its claims are still unproven). */
export function helloProblem(ours: Hello, theirs: unknown): { code: string; reason: string } | null {
  // The version first: a peer of another version may shape its hello differently.
  const version = (theirs as { version?: unknown } | null)?.version;
  if ((theirs as { t?: unknown } | null)?.t === 'hello' && typeof version === 'number' && version !== ours.version) {
    return { code: HandshakeCode.VersionMismatch, reason: `protocol version ${version} is not ${ours.version}` };
  }
  if (!isHello(theirs)) return { code: HandshakeCode.BadHello, reason: 'first frame is not a valid hello' };
  if (theirs.cluster !== ours.cluster) {
    return { code: HandshakeCode.ClusterMismatch, reason: `cluster id '${theirs.cluster}' is not '${ours.cluster}'` };
  }
  if (theirs.plane !== ours.plane) {
    return { code: HandshakeCode.PlaneMismatch, reason: `this is a ${ours.plane}-plane port, not a ${theirs.plane}-plane one` };
  }
  if (theirs.node === ours.node && theirs.uid === ours.uid) return { code: HandshakeCode.SelfConnect, reason: 'connected to itself' };
  return null;
}

function isHello(v: unknown): v is Hello {
  if (typeof v !== 'object' || v === null) return false;
  const h = v as Record<string, unknown>;
  return (
    h['t'] === 'hello' &&
    typeof h['version'] === 'number' &&
    typeof h['cluster'] === 'string' &&
    (h['plane'] === Plane.Control || h['plane'] === Plane.Data || h['plane'] === Plane.Agent) &&
    (h['role'] === Role.Node || h['role'] === Role.Client) &&
    typeof h['node'] === 'string' &&
    h['node'].length > 0 &&
    h['node'].length <= 256 &&
    typeof h['uid'] === 'string' &&
    h['uid'].length <= 256 &&
    h['nonce'] instanceof Uint8Array &&
    h['nonce'].length === 32
  );
}

function isAuth(v: unknown): v is Auth {
  return typeof v === 'object' && v !== null && (v as Auth).t === 'auth' && (v as Auth).mac instanceof Uint8Array;
}

function isRefuse(v: unknown): v is Refuse {
  return typeof v === 'object' && v !== null && (v as Refuse).t === 'refuse' && typeof (v as Refuse).code === 'string';
}

/** What the driver decided after a handshake frame. */
export type HandshakeStep =
  | { kind: 'continue' }
  /** The peer proved it holds the key of its role: the connection is open. */
  | { kind: 'open'; peer: VerifiedPeer }
  /** We refuse the peer (the refusal frame has been sent): close and log. */
  | { kind: 'refuse'; code: string; reason: string }
  /** The peer refused us: close and log. */
  | { kind: 'refused'; code: string; reason: string };

/** One handshake frame on the wire (length-prefixed MessagePack). */
export function handshakeFrame(msg: HandshakeMessage): Buffer {
  return encodeFrame(handshakePackr.pack(msg));
}

export interface HandshakeSettings {
  cluster: string;
  plane: Plane;
  /** Our node id: `host:port` for a node, `client-…` for a client. */
  node: string;
  uid: string;
  keys: HandshakeKeys;
}

/**
 * The handshake of one connection (the protocol in the header), shared by the control plane's
 * connections and the data plane's: it sends our hello at once, then turns each frame the peer
 * sends into a step. The caller owns the socket, the timer and what `open` means.
 */
export class HandshakeDriver {
  readonly hello: Hello;
  /** Set only once the peer's proof verified. */
  peer: VerifiedPeer | null = null;
  /** The peer's hello, unverified until `peer` is set: never a source of identity. */
  private theirs: Hello | null = null;
  private stage: 'hello' | 'proof' | 'done' = 'hello';

  constructor(
    private readonly settings: HandshakeSettings,
    /** Whether we dialed: the dialer proves first. */
    private readonly dialer: boolean,
    /** For a dialed connection: the node id the peer must announce. */
    private readonly expectedNode: string | null,
    private readonly write: (frame: Buffer) => void,
  ) {
    const role = dialer ? settings.keys.ownRole : Role.Node;
    this.hello = makeHello(settings.cluster, settings.plane, role, settings.node, settings.uid);
    write(handshakeFrame(this.hello));
  }

  /** The role we authenticate as on this connection. */
  get role(): Role {
    return this.hello.role;
  }

  onFrame(frame: Buffer): HandshakeStep {
    let msg: unknown;
    try {
      msg = handshakePackr.unpack(frame);
    } catch {
      return this.refuse(HandshakeCode.BadHandshake, 'handshake frame is not MessagePack');
    }
    if (isRefuse(msg)) {
      this.stage = 'done';
      return { kind: 'refused', code: msg.code, reason: typeof msg.reason === 'string' ? msg.reason.slice(0, 500) : '' };
    }
    switch (this.stage) {
      case 'hello':
        return this.dialer ? this.dialerGotHello(msg) : this.acceptorGotHello(msg);
      case 'proof':
        return this.dialer ? this.dialerGotProof(msg) : this.acceptorGotProof(msg);
      case 'done':
        return this.refuse(HandshakeCode.BadHandshake, 'frame after the handshake ended');
    }
  }

  private dialerGotHello(msg: unknown): HandshakeStep {
    const problem = helloProblem(this.hello, msg);
    if (problem) return this.refuse(problem.code, problem.reason);
    const hello = msg as Hello;
    if (hello.role !== Role.Node) return this.refuse(HandshakeCode.BadHello, 'an acceptor answers as a node');
    if (this.expectedNode !== null && hello.node !== this.expectedNode) {
      return this.refuse(HandshakeCode.WrongNode, `dialed ${this.expectedNode} but the peer announces another node id`);
    }
    this.theirs = hello;
    this.stage = 'proof';
    const key = this.settings.keys.keyFor(this.hello.role)!;
    this.write(handshakeFrame({ t: 'auth', mac: proofMac(key, 'dialer', this.hello, hello) }));
    return { kind: 'continue' };
  }

  private acceptorGotHello(msg: unknown): HandshakeStep {
    const problem = helloProblem(this.hello, msg);
    if (problem) return this.refuse(problem.code, problem.reason);
    const hello = msg as Hello;
    if (this.settings.keys.keyFor(hello.role) === null) {
      return this.refuse(HandshakeCode.RoleRefused, `this ${this.settings.plane}-plane endpoint does not serve ${hello.role}s`);
    }
    // A client's id is never a dialable address: no client can take the place of a node.
    if (hello.role === Role.Client && !hello.node.startsWith(CLIENT_NODE_PREFIX)) {
      return this.refuse(HandshakeCode.BadHello, `a client's id must start with '${CLIENT_NODE_PREFIX}'`);
    }
    this.theirs = hello;
    this.stage = 'proof';
    return { kind: 'continue' };
  }

  private acceptorGotProof(msg: unknown): HandshakeStep {
    const dialer = this.theirs!;
    const key = this.settings.keys.keyFor(dialer.role)!;
    if (!isAuth(msg) || !verifyProof(key, 'dialer', dialer, this.hello, msg.mac)) {
      // No MAC of ours goes out: an unverified dialer must get nothing computed with the key.
      return this.refuse(HandshakeCode.AuthFailed, `the dialer's proof does not verify: it does not hold the ${dialer.role} secret of this cluster`);
    }
    this.write(handshakeFrame({ t: 'auth', mac: proofMac(key, 'acceptor', dialer, this.hello) }));
    return this.open(dialer);
  }

  private dialerGotProof(msg: unknown): HandshakeStep {
    const acceptor = this.theirs!;
    const key = this.settings.keys.keyFor(this.hello.role)!;
    if (!isAuth(msg) || !verifyProof(key, 'acceptor', this.hello, acceptor, msg.mac)) {
      return this.refuse(HandshakeCode.AuthFailed, `the acceptor's proof does not verify: it does not hold the ${this.hello.role} secret of this cluster`);
    }
    return this.open(acceptor);
  }

  private open(hello: Hello): HandshakeStep {
    this.stage = 'done';
    this.peer = { node: hello.node, uid: hello.uid, role: hello.role };
    return { kind: 'open', peer: this.peer };
  }

  /** Send a refusal (also for the caller's own reasons, e.g. a handshake timeout). */
  refuse(code: string, reason: string): HandshakeStep {
    this.stage = 'done';
    this.write(handshakeFrame({ t: 'refuse', code, reason }));
    return { kind: 'refuse', code, reason };
  }
}
