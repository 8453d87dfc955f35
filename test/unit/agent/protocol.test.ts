import assert from 'node:assert/strict';
import { parseRequest, requestId } from '../../../scripts/agent/protocol.js';
import { peerProblem } from '../../../scripts/agent/firewall.js';

describe('agent protocol', () => {
  it('accepts the four requests', () => {
    for (const request of [
      { t: 'list', id: 1 },
      { t: 'heal', id: 2 },
      { t: 'signal', id: 3, pid: 1234, startTicks: '998877', signal: 'SIGSTOP' },
      { t: 'partition', id: 4, peer: '198.18.0.2', direction: 'both', expiresInMs: 60_000 },
      { t: 'partition', id: 5, peer: '198.18.0.2', direction: 'from' },
    ]) {
      assert.deepEqual(parseRequest(request), { ok: true, request });
    }
  });

  it('refuses anything else as unknown, and known requests of the wrong shape as bad', () => {
    const unknown = [null, 7, 'list', [1, 'agent', {}], { id: 1 }, { t: 'exec', id: 1 }, { t: '__proto__', id: 1 }, { t: 'toString', id: 1 }];
    for (const value of unknown) assert.equal((parseRequest(value) as { kind: string }).kind, 'unknown', JSON.stringify(value));
    const bad = [
      { t: 'list' },
      { t: 'list', id: 1.5 },
      { t: 'list', id: 1, extra: true },
      { t: 'signal', id: 1, pid: 1, startTicks: '1', signal: 'SIGKILL' },
      { t: 'signal', id: 1, pid: 5, startTicks: '1', signal: 'SIGTERM' },
      { t: 'signal', id: 1, pid: 5, startTicks: 'now', signal: 'SIGKILL' },
      { t: 'signal', id: 1, pid: '5', startTicks: '1', signal: 'SIGKILL' },
      { t: 'partition', id: 1, peer: '198.18.0.2', direction: 'up' },
      { t: 'partition', id: 1, peer: 42, direction: 'from' },
      { t: 'partition', id: 1, peer: '198.18.0.2', direction: 'from', expiresInMs: 10 },
    ];
    for (const value of bad) assert.equal((parseRequest(value) as { kind: string }).kind, 'bad', JSON.stringify(value));
    assert.equal(requestId({ t: 'exec', id: 9 }), 9);
    assert.equal(requestId({ t: 'exec', id: 'x' }), null);
  });

  it('cuts only other hosts: an IP address, not loopback, wildcard or v4-mapped', () => {
    for (const peer of ['198.18.0.2', '10.1.2.3', 'fd00::2']) assert.equal(peerProblem(peer), null, peer);
    for (const peer of ['127.0.0.1', '127.5.5.5', '0.0.0.0', '::', '::1', '::ffff:198.18.0.2', 'h1', '198.18.0.2/24', '']) assert.notEqual(peerProblem(peer), null, peer);
  });
});
