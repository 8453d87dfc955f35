import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { isBrokenCircuitError } from 'cockatiel';
import { EtcdPermissionDeniedError, GRPCDeadlineExceededError } from 'etcd3';
import { EtcdHostHealth, isUnresponsiveMember } from '../../../lib/ha/etcd-host-health.js';
import { attemptDeadline } from '../../../lib/ha/etcd-client.js';

const A = 'http://198.18.0.2:2379';
const B = 'http://198.18.0.3:2379';
const C = 'http://198.18.0.4:2379';

function health(): { health: EtcdHostHealth; clock: { t: number } } {
  const clock = { t: 1000 };
  const h = new EtcdHostHealth({ suspectMs: 1000, maxSuspectMs: 4000, unansweredMs: 300, now: () => clock.t });
  for (const member of [A, B, C]) h.policyFor(member);
  return { health: h, clock };
}

/** A grpc-js call error as a stream emits it (a plain Error with the status code). */
const grpcError = (code: number, text: string): Error => Object.assign(new Error(`${code} ${text}`), { code });

describe('ha etcd host health - which member not to wait on', () => {
  it('passes over a member with a call unanswered longer than unansweredMs, while another is usable', () => {
    const { health: h, clock } = health();
    h.callStarted(A);
    clock.t += 300;
    assert.equal(h.shouldPassOver(A), false, 'still within unansweredMs');
    clock.t += 1;
    assert.equal(h.shouldPassOver(A), true);
    assert.equal(h.shouldPassOver(B), false);
  });

  it('passes over a failed member for suspectMs, doubling per failure up to maxSuspectMs, and an answer clears it', () => {
    const { health: h, clock } = health();
    const spans: number[] = [];
    for (let failure = 0; failure < 4; failure++) {
      h.callSettled(A, h.callStarted(A), 'unresponsive');
      const from = clock.t;
      while (h.shouldPassOver(A)) clock.t += 10;
      spans.push(clock.t - from);
    }
    assert.deepEqual(spans, [1000, 2000, 4000, 4000]);
    h.callSettled(A, h.callStarted(A), 'answered');
    assert.equal(h.usable(A), true);
    const probe = h.callStarted(A);
    clock.t += 200;
    assert.equal(h.usable(A), true, 'an answered member is back to the unanswered rule');
    h.callSettled(A, probe, 'answered');
  });

  it('after a failure, lets one probe at a time reach the member', () => {
    const { health: h, clock } = health();
    h.callSettled(A, h.callStarted(A), 'unresponsive');
    clock.t += 1000;
    assert.equal(h.shouldPassOver(A), false, 'the suspicion is over: a probe may go');
    const probe = h.callStarted(A);
    assert.equal(h.shouldPassOver(A), true, 'a second call while the probe is out');
    h.callSettled(A, probe, 'ended'); // cancelled: tells nothing, frees the probe slot
    assert.equal(h.shouldPassOver(A), false);
  });

  it('passes over nobody when no other member is usable: every call goes through, as without it', () => {
    const { health: h } = health();
    for (const member of [A, B, C]) h.callSettled(member, h.callStarted(member), 'unresponsive');
    assert.deepEqual([A, B, C].map((m) => h.shouldPassOver(m)), [false, false, false]);
    h.callSettled(B, h.callStarted(B), 'answered');
    assert.deepEqual([A, B, C].map((m) => h.shouldPassOver(m)), [true, false, true]);
  });

  it('an outcome reported twice for one call counts once', () => {
    const { health: h, clock } = health();
    const id = h.callStarted(A);
    h.callSettled(A, id, 'unresponsive');
    h.callSettled(A, id, 'unresponsive');
    clock.t += 1000;
    assert.equal(h.usable(A), true, 'one failure: one suspectMs');
  });

  it('counts deadlines and unavailability as the member not answering, nothing else', () => {
    assert.equal(isUnresponsiveMember(new GRPCDeadlineExceededError('deadline')), true);
    assert.equal(isUnresponsiveMember(grpcError(4, 'DEADLINE_EXCEEDED: Deadline exceeded')), true);
    assert.equal(isUnresponsiveMember(grpcError(14, 'UNAVAILABLE: No connection established')), true);
    assert.equal(isUnresponsiveMember(grpcError(1, 'CANCELLED: Cancelled on client')), false);
    assert.equal(isUnresponsiveMember(new EtcdPermissionDeniedError('etcdserver: permission denied')), false);
    assert.equal(isUnresponsiveMember('not an error'), false);
  });
});

describe('ha etcd host health - the per-member policy etcd3 runs calls through', () => {
  it('records a unary call: a deadline marks the member, an answer (even an error answer) clears it', async () => {
    const { health: h, clock } = health();
    const policy = h.policyFor(A);
    await assert.rejects(policy.execute(() => Promise.reject(new GRPCDeadlineExceededError('deadline'))), GRPCDeadlineExceededError);
    assert.equal(h.usable(A), false);
    await assert.rejects(policy.execute(() => Promise.resolve(1)), (err: unknown) => isBrokenCircuitError(err), 'passed over before any I/O');
    clock.t += 1000;
    await assert.rejects(policy.execute(() => Promise.reject(new EtcdPermissionDeniedError('etcdserver: permission denied'))), EtcdPermissionDeniedError);
    assert.equal(h.usable(A), true, 'the member answered');
    assert.equal(await policy.execute(() => Promise.resolve('ok')), 'ok');
  });

  it('follows a stream: unanswered until the member sends headers; a deadline before that marks it', async () => {
    const { health: h, clock } = health();
    const policy = h.policyFor(A);
    const answered = new EventEmitter();
    assert.equal(await policy.execute(() => answered), answered);
    clock.t += 500;
    assert.equal(h.usable(A), false, 'a stream without headers for 500 ms');
    answered.emit('metadata', {});
    answered.emit('error', grpcError(4, 'DEADLINE_EXCEEDED')); // after the answer: the stream's, not the member's
    assert.equal(h.usable(A), true);

    const silent = new EventEmitter();
    await policy.execute(() => silent);
    silent.emit('error', grpcError(4, 'DEADLINE_EXCEEDED'));
    silent.emit('status', { code: 4 });
    assert.equal(h.usable(A), false);
    clock.t += 1000;
    assert.equal(h.usable(A), true);
  });

  it("lets etcd3's synchronous failure reports through without counting them again", async () => {
    const { health: h } = health();
    const policy = h.policyFor(A);
    await assert.rejects(
      policy.execute(() => {
        throw new GRPCDeadlineExceededError('reported');
      }),
      GRPCDeadlineExceededError,
    );
    assert.equal(h.usable(A), true);
  });
});

describe('ha etcd client - per-attempt deadlines', () => {
  it('gives each merge of the options (one per attempt) a deadline from that moment', () => {
    const options = attemptDeadline(1000);
    const first = { ...options }.deadline;
    const later = Date.now();
    const second = { ...{ deadline: 0 }, ...options }.deadline;
    assert.ok(second >= later + 1000 && second >= first, `${first} then ${second}`);
  });
});
