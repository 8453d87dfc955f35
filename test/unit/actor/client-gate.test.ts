import assert from 'node:assert/strict';
import { clientEnvelopeProblem } from '../../../lib/actor/client-gate.js';
import { ActorRef, type RefRouter } from '../../../lib/actor/ref.js';
import { EnvelopeKind } from '../../../lib/transport/protocol.js';

const router = {} as RefRouter;
const client = 'client-1';
const protocol = { actor: 'master', types: ['master.job.list', 'master.job.submit'] };
const own = new ActorRef(client, '$ask/7', router);
const noAsks = () => false;

describe('actor - what a client connection may deliver', () => {
  it('lets the client protocol through, answering the client itself', () => {
    assert.equal(clientEnvelopeProblem(client, [EnvelopeKind.Tell, 'master', { type: 'master.job.list', replyTo: own }, own], protocol, noAsks), null);
  });

  it('refuses other types, other actors, other envelope kinds, and no client protocol at all', () => {
    assert.match(clientEnvelopeProblem(client, [EnvelopeKind.Tell, 'master', { type: 'master.stop' }], protocol, noAsks)!, /may not send master.stop to master/);
    assert.match(clientEnvelopeProblem(client, [EnvelopeKind.Tell, 'resourcemanager', { type: 'master.job.list' }], protocol, noAsks)!, /to resourcemanager/);
    assert.match(clientEnvelopeProblem(client, [EnvelopeKind.Watch, 'master'], protocol, noAsks)!, /only tells/);
    assert.match(clientEnvelopeProblem(client, [EnvelopeKind.Tell, 'master', 'not an object'], protocol, noAsks)!, /may not send string/);
    assert.ok(clientEnvelopeProblem(client, [EnvelopeKind.Tell, 'master', { type: 'master.job.list' }], null, noAsks));
  });

  it('refuses a replyTo on another node, in the envelope or in the message', () => {
    const elsewhere = new ActorRef('127.0.0.1:7000', 'taskexecutor', router);
    assert.match(clientEnvelopeProblem(client, [EnvelopeKind.Tell, 'master', { type: 'master.job.list', replyTo: elsewhere }], protocol, noAsks)!, /replyTo/);
    assert.match(clientEnvelopeProblem(client, [EnvelopeKind.Tell, 'master', { type: 'master.job.list' }, elsewhere], protocol, noAsks)!, /replyTo/);
  });

  it('accepts a reply only to an ask sent to that client', () => {
    assert.equal(clientEnvelopeProblem(client, [EnvelopeKind.Tell, '$ask/3', 'answer'], protocol, (id) => id === 3), null);
    assert.match(clientEnvelopeProblem(client, [EnvelopeKind.Tell, '$ask/4', 'answer'], protocol, (id) => id === 3)!, /only asks sent to it/);
  });
});
