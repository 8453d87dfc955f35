import assert from 'node:assert/strict';
import type { JobDetails } from '../../../actors/jobmaster/status.js';
import type { ClusterOverview } from '../../../actors/resourcemanager/protocol.js';
import { backpressureLevel, renderTopLine, renderTopScreen, topFrame, type TopPoll } from '../../../scripts/ops/top.js';

const overview: ClusterOverview = { leaderSessionId: '1', taskExecutors: [], slotsTotal: 4, slotsFree: 2, waitingJobs: [] };

function job(attempt: number, counters: { recordsIn: number; recordsOut: number; backPressuredMs: number }): JobDetails {
  const subtask = (index: number) => ({
    vertexId: 'v1', index, executionId: `j/${attempt}/v1/${index}`, state: 'running' as const, taskExecutorId: 'te-1', slotIndex: index, metrics: counters,
  });
  return {
    jobId: 'ab'.repeat(16), name: 'count', state: 'running', submittedAt: 0, endedAt: null,
    vertices: [{ id: 'v1', name: 'count', parallelism: 2, slotSharingGroup: 'default', operatorIds: ['v1'], inputs: [] }],
    subtasks: [subtask(0), subtask(1)], slots: [], attempt, restarts: attempt, restoredFrom: null,
    checkpoints: [{ id: 3, status: 'completed', savepoint: false, triggeredAt: 9_000, durationMs: 40, bytes: 10 }],
  };
}

const poll = (at: number, details: JobDetails): TopPoll => ({ at, leader: '127.0.0.1:1', overview, jobs: [details] });

describe('top - frames from two polls', () => {
  it('classes backpressure as Flink does: ok up to 10 %, low up to 50 %, high above', () => {
    assert.deepEqual([0, 0.1, 0.11, 0.5, 0.51, 1].map(backpressureLevel), ['ok', 'ok', 'low', 'low', 'high', 'high']);
  });

  it('has no rates on the first poll, then per-second rates and backpressure per subtask from the difference', () => {
    const first = poll(10_000, job(0, { recordsIn: 100, recordsOut: 50, backPressuredMs: 0 }));
    assert.equal(topFrame(first, null).jobs[0]!.vertices[0]!.recordsOutPerSecond, null);
    // 2 s later, each of 2 subtasks moved 1000 more in and waited 600 ms: 30 % of the time.
    const second = poll(12_000, job(0, { recordsIn: 1100, recordsOut: 550, backPressuredMs: 600 }));
    const vertex = topFrame(second, first).jobs[0]!.vertices[0]!;
    assert.equal(vertex.recordsInPerSecond, 1000); // 2 × 1000 records / 2 s
    assert.equal(vertex.recordsOutPerSecond, 500);
    assert.deepEqual(vertex.backpressure, { ratio: 0.3, level: 'low' });
    assert.equal(vertex.running, 2);
  });

  it('shows no rate across a restart: the counters of a new attempt start over', () => {
    const before = poll(10_000, job(0, { recordsIn: 5000, recordsOut: 5000, backPressuredMs: 0 }));
    const after = poll(11_000, job(1, { recordsIn: 10, recordsOut: 10, backPressuredMs: 0 }));
    assert.equal(topFrame(after, before).jobs[0]!.vertices[0]!.recordsInPerSecond, null);
  });

  it('draws a screen with a row per vertex, and one line per refresh for pipes', () => {
    const first = poll(10_000, job(0, { recordsIn: 0, recordsOut: 0, backPressuredMs: 0 }));
    const frame = topFrame(poll(11_000, job(0, { recordsIn: 2000, recordsOut: 2000, backPressuredMs: 600 })), first);
    const screen = renderTopScreen(frame);
    assert.match(screen, /leader 127\.0\.0\.1:1 .* slots 2\/4 used/);
    assert.match(screen, /checkpoint 3 \(40 ms, 2\.0 s ago\)/);
    assert.match(screen, /count\s+2\/2\s+4000\s+4000\s+high \(60 %\)/);
    assert.equal(renderTopLine(frame), '1970-01-01T00:00:11.000Z leader=127.0.0.1:1 slots=2/4 | abababab running attempt=0 out/s=4000 backpressure=high checkpoint=3');
  });
});
