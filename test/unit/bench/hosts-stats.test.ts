/** The hosts benchmark's pure parts: summaries, and reading what its client and the Masters print. */
import assert from 'node:assert/strict';
import {
  agreedLeader,
  largestCompleted,
  leadsNow,
  recordLeadership,
  runningAgain,
  summarize,
  type LeadershipLog,
  type MasterAnswer,
} from '../../../bench/support/hosts-stats.js';

describe('bench hosts - statistics and readings', () => {
  it('summarize: median (the upper one of an even count), extremes, count; no samples is an error', () => {
    assert.deepEqual(summarize([30, 10, 20]), { p50: 20, min: 10, max: 30, count: 3 });
    assert.deepEqual(summarize([4, 1, 3, 2]), { p50: 3, min: 1, max: 4, count: 4 });
    assert.deepEqual(summarize([7]), { p50: 7, min: 7, max: 7, count: 1 });
    assert.throws(() => summarize([]), RangeError);
  });

  it('runningAgain: the first later attempt running every subtask, after the kill, without the dead TaskExecutor', () => {
    const statuses = [
      { time: 100, attempt: 0, running: true, taskExecutors: ['te-1', 'te-2'] },
      { time: 210, attempt: 1, running: false, taskExecutors: ['te-2', 'te-3'] },
      { time: 220, attempt: 1, running: true, taskExecutors: ['te-1', 'te-3'] }, // a stale report that still names the dead one
      { time: 230, attempt: 1, running: true, taskExecutors: ['te-2', 'te-3'] },
      { time: 240, attempt: 1, running: true, taskExecutors: ['te-2', 'te-3'] },
    ];
    assert.equal(runningAgain(statuses, 200, 0, 'te-1')?.time, 230);
    assert.equal(runningAgain(statuses, 50, 0, 'te-1')?.time, 230, 'attempt 0 running is not a recovery');
    assert.equal(runningAgain(statuses, 240, 0, 'te-1'), undefined, 'nothing after the last status');
    assert.equal(runningAgain(statuses, 200, 1, 'te-1'), undefined, 'no attempt after 1');
  });

  it('agreedLeader: one Master leads and every other names it; an unreachable or dissenting one is no agreement', () => {
    const nodes: Record<string, string> = { 'a:1': 'a:10', 'b:1': 'b:10', 'c:1': 'c:10' };
    const nodeOf = (rest: string) => nodes[rest];
    const agreed: MasterAnswer[] = [
      { rest: 'a:1', isLeader: false, leader: 'b:10' },
      { rest: 'b:1', isLeader: true, leader: 'b:10' },
      { rest: 'c:1', isLeader: false, leader: 'b:10' },
    ];
    assert.equal(agreedLeader(agreed, 3, nodeOf), 'b:1');
    assert.equal(agreedLeader(agreed.slice(0, 2), 3, nodeOf), undefined, 'a Master missing');
    assert.equal(agreedLeader([agreed[0]!, agreed[1]!, { rest: 'c:1', isLeader: null, leader: null }], 3, nodeOf), undefined, 'one unreachable');
    assert.equal(agreedLeader([agreed[0]!, agreed[1]!, { rest: 'c:1', isLeader: false, leader: 'a:10' }], 3, nodeOf), undefined, 'one names another leader');
    assert.equal(agreedLeader([agreed[0]!, agreed[1]!, { rest: 'c:1', isLeader: true, leader: 'c:10' }], 3, nodeOf), undefined, 'two say they lead');
  });

  it('recordLeadership and leadsNow: grants and revocations from the Master log lines, other lines ignored', () => {
    const log: LeadershipLog = { granted: [], revoked: [] };
    for (const line of [
      'not json',
      '{"msg":"leadership granted","time":100}',
      '{"msg":"leadership revoked: stopping ResourceManager and JobMasters","time":150}',
      '{broken',
      '{"msg":"leadership granted"}',
    ]) recordLeadership(log, line);
    assert.deepEqual(log, { granted: [100], revoked: [] });
    assert.equal(leadsNow(log), true);
    recordLeadership(log, '{"msg":"leadership revoked","time":200}');
    assert.equal(leadsNow(log), false);
    recordLeadership(log, '{"msg":"leadership granted","time":300}');
    assert.equal(leadsNow(log), true);
    assert.equal(leadsNow({ granted: [], revoked: [] }), false);
  });

  it('largestCompleted: the completed checkpoint with the most bytes', () => {
    const checkpoints = [
      { id: 1, status: 'completed', bytes: 10, durationMs: 5 },
      { id: 2, status: 'aborted', bytes: 999, durationMs: 7 },
      { id: 3, status: 'completed', bytes: 500, durationMs: 90 },
      { id: 4, status: 'pending', bytes: 800, durationMs: null },
    ];
    assert.equal(largestCompleted(checkpoints)?.id, 3);
    assert.equal(largestCompleted(checkpoints.filter((c) => c.status !== 'completed')), undefined);
  });
});
