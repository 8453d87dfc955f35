import assert from 'node:assert/strict';
import { authMac, helloProblem, makeHello, verifyAuth } from '../../../lib/transport/handshake.js';
import { EnvelopeKind, envelopeProblem } from '../../../lib/transport/protocol.js';

describe('transport - handshake', () => {
  const a = makeHello('cluster', '127.0.0.1:1000', 'uid-a');
  const b = makeHello('cluster', '127.0.0.1:2000', 'uid-b');

  it('accepts a MAC made with the same secret', () => {
    assert.ok(verifyAuth('secret-secret-secret', a, b, authMac('secret-secret-secret', a, b)));
  });

  it('rejects a MAC made with another secret', () => {
    assert.equal(verifyAuth('secret-secret-secret', a, b, authMac('other-secret-other', a, b)), false);
  });

  it('rejects a MAC replayed against another nonce', () => {
    const b2 = makeHello('cluster', b.node, b.uid);
    assert.equal(verifyAuth('secret-secret-secret', a, b2, authMac('secret-secret-secret', a, b)), false);
  });

  it('rejects a MAC signed for the other direction', () => {
    assert.equal(verifyAuth('secret-secret-secret', a, b, authMac('secret-secret-secret', b, a)), false);
  });

  it('names the problem with a hello from another cluster or version', () => {
    assert.equal(helloProblem(a, makeHello('elsewhere', b.node, b.uid))?.code, 'CLUSTER_MISMATCH');
    assert.equal(helloProblem(a, { ...b, version: 99 })?.code, 'VERSION_MISMATCH');
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
