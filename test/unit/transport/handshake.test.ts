import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { FrameDecoder } from '../../../lib/transport/frame.js';
import {
  HandshakeDriver,
  HandshakeKeys,
  Plane,
  Role,
  deriveKey,
  helloProblem,
  makeHello,
  proofMac,
  verifyProof,
  type HandshakeStep,
} from '../../../lib/transport/handshake.js';
import { EnvelopeKind, envelopeProblem } from '../../../lib/transport/protocol.js';

const packr = new Packr({ useRecords: false });
const NODE_SECRET = 'node-secret-0123456789';
const CLIENT_SECRET = 'client-secret-0123456789';

/** One side of an in-memory handshake: the frames it wrote, unframed. */
class Side {
  readonly out: Buffer[] = [];
  readonly driver: HandshakeDriver;
  constructor(node: string, dialer: boolean, keys: HandshakeKeys, plane: Plane = Plane.Control, expected: string | null = null) {
    this.driver = new HandshakeDriver({ cluster: 'c', plane, node, uid: `${node}-uid`, keys }, dialer, expected, (f) => this.out.push(f));
  }
  take(): Buffer[] {
    const frames: Buffer[] = [];
    const decoder = new FrameDecoder(4096);
    for (const f of this.out.splice(0)) decoder.push(f, (frame) => frames.push(Buffer.from(frame)));
    return frames;
  }
  /** What this side wrote, decoded. */
  static decode(frames: Buffer[]): Array<{ t: string; code?: string }> {
    return frames.map((f) => packr.unpack(f) as { t: string; code?: string });
  }
}

/** Runs the handshake to its end; returns each side's last step. */
function run(d: Side, a: Side): { dialer: HandshakeStep; acceptor: HandshakeStep; acceptorWrote: Array<{ t: string; code?: string }> } {
  let dialer: HandshakeStep = { kind: 'continue' };
  let acceptor: HandshakeStep = { kind: 'continue' };
  const acceptorWrote: Array<{ t: string; code?: string }> = [];
  for (let round = 0; round < 4; round++) {
    for (const f of d.take()) if (acceptor.kind === 'continue') acceptor = a.driver.onFrame(f);
    const fromA = a.take();
    acceptorWrote.push(...Side.decode(fromA));
    for (const f of fromA) if (dialer.kind === 'continue') dialer = d.driver.onFrame(f);
  }
  return { dialer, acceptor, acceptorWrote };
}

const nodeKeys = (plane: Plane = Plane.Control, secret = NODE_SECRET) => HandshakeKeys.derive('c', plane, { node: secret, client: null });
const masterKeys = () => HandshakeKeys.derive('c', Plane.Control, { node: NODE_SECRET, client: CLIENT_SECRET });
const clientKeys = (secret = CLIENT_SECRET) => HandshakeKeys.derive('c', Plane.Control, { node: null, client: secret });

describe('transport - handshake', () => {
  it('opens both ways with the same node secret, and names each peer only once it is proven', () => {
    const d = new Side('127.0.0.1:1', true, nodeKeys(), Plane.Control, '127.0.0.1:2');
    const a = new Side('127.0.0.1:2', false, nodeKeys());
    a.driver.onFrame(d.take()[0]!);
    assert.equal(a.driver.peer, null, 'a hello alone is no identity');
    const { dialer, acceptor } = run(d, a);
    assert.deepEqual(acceptor, { kind: 'open', peer: { node: '127.0.0.1:1', uid: '127.0.0.1:1-uid', role: 'node' } });
    assert.deepEqual(dialer, { kind: 'open', peer: { node: '127.0.0.1:2', uid: '127.0.0.1:2-uid', role: 'node' } });
  });

  it('an acceptor refuses a wrong secret with AUTH_FAILED and sends no MAC of its own', () => {
    const d = new Side('127.0.0.1:1', true, nodeKeys(Plane.Control, 'another-secret-0123456'));
    const a = new Side('127.0.0.1:2', false, nodeKeys());
    const { dialer, acceptor, acceptorWrote } = run(d, a);
    assert.equal(acceptor.kind === 'refuse' && acceptor.code, 'AUTH_FAILED');
    assert.equal(dialer.kind === 'refused' && dialer.code, 'AUTH_FAILED');
    assert.deepEqual(acceptorWrote.map((m) => m.t), ['hello', 'refuse']);
    assert.equal(a.driver.peer, null);
  });

  it('a dialer refuses an acceptor that cannot prove the secret', () => {
    const d = new Side('127.0.0.1:1', true, nodeKeys());
    // An impostor acceptor that accepts anything and answers with a proof made with another key.
    const impostor = deriveKey('impostor-secret-012345', 'c', Plane.Control, Role.Node);
    const a = makeHello('c', Plane.Control, Role.Node, '127.0.0.1:2', 'x');
    const dHello = packr.unpack(d.take()[0]!) as ReturnType<typeof makeHello>;
    assert.equal(d.driver.onFrame(packr.pack(a)).kind, 'continue');
    const step = d.driver.onFrame(packr.pack({ t: 'auth', mac: proofMac(impostor, 'acceptor', { ...dHello, nonce: Buffer.from(dHello.nonce) }, a) }));
    assert.equal(step.kind === 'refuse' && step.code, 'AUTH_FAILED');
    assert.equal(d.driver.peer, null);
  });

  it('a proof is bound to its direction, plane, role, cluster and both nonces', () => {
    const key = deriveKey(NODE_SECRET, 'c', Plane.Control, Role.Node);
    const x = makeHello('c', Plane.Control, Role.Node, '127.0.0.1:1', 'u1');
    const y = makeHello('c', Plane.Control, Role.Node, '127.0.0.1:2', 'u2');
    const mac = proofMac(key, 'dialer', x, y);
    assert.ok(verifyProof(key, 'dialer', x, y, mac));
    assert.equal(verifyProof(key, 'acceptor', x, y, mac), false, 'a dialer proof is no acceptor proof');
    assert.equal(verifyProof(key, 'dialer', y, x, mac), false, 'nor one for the swapped pair');
    assert.equal(verifyProof(key, 'dialer', x, { ...y, nonce: makeHello('c', Plane.Control, Role.Node, y.node, y.uid).nonce }, mac), false, 'nor a replay');
    assert.equal(verifyProof(deriveKey(NODE_SECRET, 'c', Plane.Data, Role.Node), 'dialer', x, y, mac), false, 'data-plane key');
    assert.equal(verifyProof(deriveKey(NODE_SECRET, 'c', Plane.Control, Role.Client), 'dialer', x, y, mac), false, 'client key');
    assert.equal(verifyProof(deriveKey(NODE_SECRET, 'other', Plane.Control, Role.Node), 'dialer', x, y, mac), false, 'other cluster');
  });

  it('a client authenticates with the client secret at a Master, and gets the client role', () => {
    const d = new Side('client-1', true, clientKeys());
    const a = new Side('127.0.0.1:2', false, masterKeys());
    const { dialer, acceptor } = run(d, a);
    assert.equal(acceptor.kind === 'open' && acceptor.peer.role, 'client');
    assert.equal(dialer.kind, 'open');
  });

  it('refuses a client at an endpoint that serves no clients, a client with a node-like id, and a wrong client secret', () => {
    const atTe = run(new Side('client-1', true, clientKeys()), new Side('127.0.0.1:2', false, nodeKeys()));
    assert.equal(atTe.acceptor.kind === 'refuse' && atTe.acceptor.code, 'ROLE_REFUSED');
    const posing = run(new Side('127.0.0.1:9', true, clientKeys()), new Side('127.0.0.1:2', false, masterKeys()));
    assert.equal(posing.acceptor.kind === 'refuse' && posing.acceptor.code, 'BAD_HELLO');
    const wrong = run(new Side('client-1', true, clientKeys('wrong-client-secret-01')), new Side('127.0.0.1:2', false, masterKeys()));
    assert.equal(wrong.dialer.kind === 'refused' && wrong.dialer.code, 'AUTH_FAILED');
  });

  it('names the problem with a hello from another cluster, version or plane', () => {
    const a = makeHello('cluster', Plane.Control, Role.Node, '127.0.0.1:1000', 'uid-a');
    const b = makeHello('cluster', Plane.Control, Role.Node, '127.0.0.1:2000', 'uid-b');
    assert.equal(helloProblem(a, makeHello('elsewhere', Plane.Control, Role.Node, b.node, b.uid))?.code, 'CLUSTER_MISMATCH');
    assert.equal(helloProblem(a, makeHello('cluster', Plane.Data, Role.Node, b.node, b.uid))?.code, 'PLANE_MISMATCH');
    assert.equal(helloProblem(a, { ...b, version: 99 })?.code, 'VERSION_MISMATCH');
    assert.equal(helloProblem(a, { t: 'hello', version: 1, cluster: 'cluster', node: b.node, uid: b.uid, nonce: b.nonce })?.code, 'VERSION_MISMATCH', 'a version-1 hello');
    assert.equal(helloProblem(a, { t: 'hello' })?.code, 'BAD_HELLO');
    assert.equal(helloProblem(a, 'garbage')?.code, 'BAD_HELLO');
    assert.equal(helloProblem(a, b), null);
  });
});

describe('transport - envelopes', () => {
  it('accepts each known kind with its arity', () => {
    assert.equal(envelopeProblem([EnvelopeKind.Tell, 'a', { type: 'x' }]), null);
    assert.equal(envelopeProblem([EnvelopeKind.Watch, 'a']), null);
    assert.equal(envelopeProblem([EnvelopeKind.Heartbeat]), null);
  });

  it('names unknown types and malformed envelopes', () => {
    assert.match(envelopeProblem([99, 'a'])!, /unknown message type 99/);
    assert.match(envelopeProblem({ type: 'x' })!, /not an envelope/);
    assert.match(envelopeProblem([EnvelopeKind.Tell])!, /has 1 fields/);
    assert.match(envelopeProblem([EnvelopeKind.Tell, 42, {}])!, /no target name/);
  });
});
