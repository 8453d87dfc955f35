/**
 * The drill's per-fault figures: leadership terms from the Masters' logs, the time no Master
 * led within a window, and the longest gap between the sink's commits. Also the commit times
 * read from a real transactional file sink's directory.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { withTimeline } from '../../../scripts/drill/drill.js';
import type { FaultMeasure } from '../../../scripts/drill/faults.js';
import { commitTimes, leaderTerms, longestOutputGap, timeWithoutLeader } from '../../../scripts/drill/timeline.js';
import { TransactionalFileSink } from '../../../lib/task/file-sink.js';

const line = (time: number, msg: string, fields: Record<string, unknown> = {}): string => JSON.stringify({ level: 30, time, msg, ...fields });

describe('drill timeline - time without a leader and the longest output gap', () => {
  describe('leaderTerms', () => {
    it('pairs the election lines of the sessions the Master led, and ignores other elections and noise', () => {
      const lines = [
        'not json',
        line(100, 'leadership granted', { sessionId: '7' }),
        line(101, 'granted leadership', { leaderSessionId: '7' }),
        line(150, 'leadership granted', { sessionId: '99' }), // another election in the process (no Master action)
        line(400, 'leadership revoked', { sessionId: '7' }),
        line(900, 'leadership granted', { sessionId: '12' }),
        line(901, 'granted leadership', { leaderSessionId: '12' }),
        '{"broken',
      ];
      assert.deepEqual(leaderTerms('m1', lines), [
        { node: 'm1', sessionId: '7', from: 100, to: 400 },
        { node: 'm1', sessionId: '12', from: 900, to: null },
      ]);
    });
  });

  describe('timeWithoutLeader', () => {
    const terms = [
      { node: 'a', sessionId: '1', from: 0, to: null },
      { node: 'b', sessionId: '2', from: 3500, to: null },
    ];

    it('counts from the outage of the leader that logged nothing (killed, paused, cut off) to the next grant', () => {
      assert.equal(timeWithoutLeader(terms, [{ node: 'a', at: 1000 }], { from: 1000, to: 10_000 }), 2500);
    });

    it('is zero when leadership never lapsed in the window', () => {
      assert.equal(timeWithoutLeader(terms, [], { from: 1000, to: 10_000 }), 0);
    });

    it('ends a term at its revocation, and counts only what lies in the window', () => {
      const revoked = [{ node: 'a', sessionId: '1', from: 0, to: 2000 }, terms[1]!];
      assert.equal(timeWithoutLeader(revoked, [], { from: 1000, to: 10_000 }), 1500);
      assert.equal(timeWithoutLeader(revoked, [], { from: 2500, to: 3000 }), 500);
    });

    it('counts overlapping terms once (a zombie that still logs as leader covers nothing twice)', () => {
      const overlapping = [
        { node: 'a', sessionId: '1', from: 0, to: 5000 },
        { node: 'b', sessionId: '2', from: 3000, to: 8000 },
      ];
      assert.equal(timeWithoutLeader(overlapping, [], { from: 0, to: 10_000 }), 2000);
    });

    it('ignores an outage before the term began (a Master that came back and led again)', () => {
      const again = [{ node: 'a', sessionId: '3', from: 2000, to: null }];
      assert.equal(timeWithoutLeader(again, [{ node: 'a', at: 1000 }], { from: 1000, to: 5000 }), 1000);
    });

    it('is the whole window without any term', () => {
      assert.equal(timeWithoutLeader([], [], { from: 1000, to: 4000 }), 3000);
    });
  });

  describe('longestOutputGap', () => {
    it('is the longest stretch between commits, cut to the window: what began before it counts from its start', () => {
      const commits = [0, 250, 500, 2600, 2850, 3100, 9000];
      assert.equal(longestOutputGap(commits, { from: 400, to: 3000 }), 2100);
      assert.equal(longestOutputGap(commits, { from: 600, to: 3000 }), 2000);
      // Output that has not resumed by the next fault: the rest is that fault's.
      assert.equal(longestOutputGap(commits, { from: 3000, to: 5000 }), 1900);
    });

    it('takes commits in any order, and is null without two commits around the window', () => {
      assert.equal(longestOutputGap([500, 0, 250], { from: 100, to: 400 }), 150);
      assert.equal(longestOutputGap([100], { from: 0, to: 1000 }), null);
      assert.equal(longestOutputGap([0, 100], { from: 500, to: 1000 }), null);
    });
  });

  describe('commitTimes', () => {
    it("reads when a real file sink committed each part file (its rename), not when it wrote it", () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'drill-commits-'));
      try {
        const sink = new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 1, checkpointing: true });
        sink.write('k0,1');
        sink.snapshot(1);
        // Written an hour ago (mtime): the commit time must be the rename's, not the write's.
        const hourAgo = new Date(Date.now() - 3600_000);
        utimesSync(path.join(dir, '.part-0-1.inprogress'), hourAgo, hourAgo);
        const beforeCommit = Date.now();
        sink.commit(1);
        sink.write('k0,2');
        sink.snapshot(2);
        assert.equal(commitTimes(dir).length, 1, 'the pending file of checkpoint 2 is not output yet');
        const [committed] = commitTimes(dir);
        // The kernel stamps files from a coarse clock (a tick or so behind Date.now()): a second
        // of slack still tells the rename (now) from the write (an hour ago).
        assert.ok(committed! >= beforeCommit - 1000, `committed at ${committed}, the commit started at ${beforeCommit}`);
        assert.ok(statSync(path.join(dir, 'part-0-1')).mtimeMs < beforeCommit - 3000_000, 'the part file keeps its write time');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('is empty for a directory that does not exist (the job never wrote)', () => {
      assert.deepEqual(commitTimes(path.join(tmpdir(), 'no-such-drill-output')), []);
    });
  });

  describe('withTimeline', () => {
    it("measures each fault over its window up to the next fault's, the last one's up to the job's end", () => {
      const measure = (kind: FaultMeasure['kind'], target: string, at: number): FaultMeasure => ({ kind, target, at, detectionMs: null, newLeaderMs: null, runningAgainMs: null });
      const logs = [
        { node: 'a', lines: [line(0, 'leadership granted', { sessionId: '1' }), line(1, 'granted leadership', { leaderSessionId: '1' })] },
        { node: 'b', lines: [line(3000, 'leadership granted', { sessionId: '2' }), line(3001, 'granted leadership', { leaderSessionId: '2' })] },
      ];
      const commits = [0, 250, 500, 3500, 3750, 4000, 6000, 6250];
      // partition-leader [1000, 5000): no output 1000-3500; te-kill [5000, 7000): none 5000-6000.
      const faults = withTimeline([measure('partition-leader', 'a', 1000), measure('te-kill', 'te-1', 5000)], logs, commits, 7000);
      assert.deepEqual(
        faults.map((f) => [f.kind, f.withoutLeaderMs, f.longestOutputGapMs]),
        [
          ['partition-leader', 2000, 2500],
          ['te-kill', 0, 1000],
        ],
      );
    });
  });
});
