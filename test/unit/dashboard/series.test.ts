import assert from 'node:assert/strict';
import type { JobDetails } from '../../../actors/jobmaster/status.js';
import { SeriesStore, sampleOnce } from '../../../lib/dashboard/series.js';
import { LeaderTracker } from '../../../lib/rest/leadership.js';

type Counters = { recordsIn: number; recordsOut: number; backPressuredMs: number };

/** A two-vertex job: source (parallelism 1) → sink (parallelism 2). */
function job(jobId: string, attempt: number, source: Counters, sink: Counters, checkpoints: JobDetails['checkpoints'] = []): JobDetails {
  const subtask = (vertexId: string, index: number, metrics: Counters) => ({
    vertexId, index, executionId: `${jobId}/${attempt}/${vertexId}/${index}`, state: 'running' as const, taskExecutorId: 'te-1', slotIndex: index, metrics,
  });
  return {
    jobId, name: 'job', state: 'running', submittedAt: 0, endedAt: null, attempt, restarts: attempt, restoredFrom: null, slots: [], checkpoints,
    vertices: [
      { id: 'src', name: 'source', parallelism: 1, slotSharingGroup: 'default', operatorIds: ['src'], inputs: [] },
      { id: 'snk', name: 'sink', parallelism: 2, slotSharingGroup: 'default', operatorIds: ['snk'], inputs: [{ source: 'src', partitioner: 'rebalance' }] },
    ],
    subtasks: [subtask('src', 0, source), subtask('snk', 0, sink), subtask('snk', 1, sink)],
  };
}

const zero = { recordsIn: 0, recordsOut: 0, backPressuredMs: 0 };
const running = (jobId: string, submittedAt = 0) => ({ jobId, state: 'running' as const, endedAt: null, submittedAt });
const details = (...jobs: JobDetails[]) => new Map(jobs.map((j) => [j.jobId, j]));

describe('dashboard - time series of sampled job status', () => {
  it('turns cumulative counters into per-second rates, backpressure levels and the output rate', () => {
    const store = new SeriesStore();
    store.record(1000, [running('j')], details(job('j', 0, zero, zero)));
    // 2 s later: the source sent 4000 and waited 1.2 s of 2 (60 %: high); each sink subtask took 2000.
    store.record(3000, [running('j')], details(job('j', 0, { recordsIn: 0, recordsOut: 4000, backPressuredMs: 1200 }, { recordsIn: 2000, recordsOut: 0, backPressuredMs: 0 })));
    const series = store.series('j')!;
    assert.deepEqual(series.vertices.map((v) => v.name), ['source', 'sink']);
    assert.equal(series.samples.length, 2);
    assert.deepEqual(series.samples[0]!.vertices, [null, null]);
    assert.equal(series.samples[0]!.outputPerSecond, null);
    const [source, sink] = series.samples[1]!.vertices;
    assert.deepEqual(source, { recordsInPerSecond: 0, recordsOutPerSecond: 2000, backpressureRatio: 0.6, backpressure: 'high' });
    assert.deepEqual(sink, { recordsInPerSecond: 2000, recordsOutPerSecond: 0, backpressureRatio: 0, backpressure: 'ok' });
    // The sink is consumed by nobody: its intake is the job's output.
    assert.equal(series.samples[1]!.outputPerSecond, 2000);
  });

  it('has no rate across a new attempt, and notes the restart', () => {
    const store = new SeriesStore();
    store.record(1000, [running('j')], details(job('j', 0, { recordsIn: 0, recordsOut: 9000, backPressuredMs: 0 }, zero)));
    store.record(2000, [running('j')], details(job('j', 1, { recordsIn: 0, recordsOut: 10, backPressuredMs: 0 }, zero)));
    store.record(3000, [running('j')], details(job('j', 1, { recordsIn: 0, recordsOut: 510, backPressuredMs: 0 }, zero)));
    const series = store.series('j')!;
    assert.deepEqual(series.restarts, [{ at: 2000, attempt: 1 }]);
    assert.deepEqual(series.samples.map((s) => s.vertices[0]?.recordsOutPerSecond ?? null), [null, null, 500]);
    assert.deepEqual(series.samples.map((s) => s.attempt), [0, 1, 1]);
  });

  it('marks a leader change the job went through: adopted, so no restart and rates go on across it', () => {
    const store = new SeriesStore();
    store.record(1000, [running('j')], details(job('j', 4, { recordsIn: 0, recordsOut: 1000, backPressuredMs: 0 }, zero)));
    const adopted = { ...job('j', 4, { recordsIn: 0, recordsOut: 3000, backPressuredMs: 0 }, zero), failovers: [{ at: 1500, leaderSessionId: '12', attempt: 4, adopted: true, reason: 'adopted by the new leader, term 12' }] };
    store.record(2000, [running('j')], details(adopted));
    const series = store.series('j')!;
    assert.deepEqual(series.failovers, [{ at: 1500, term: '12', attempt: 4, adopted: true }]);
    assert.deepEqual(series.restarts, [], 'no restart');
    assert.equal(series.samples[1]!.vertices[0]?.recordsOutPerSecond, 2000, 'the counters went on: a rate across the failover');
  });

  it('keeps only the window: the oldest samples go first', () => {
    const store = new SeriesStore({ intervalMs: 1000, windowMs: 5000 });
    for (let t = 1; t <= 20; t++) store.record(t * 1000, [running('j')], details(job('j', 0, { ...zero, recordsOut: t * 100 }, zero)));
    const samples = store.series('j')!.samples;
    assert.deepEqual(samples.map((s) => s.at), [16_000, 17_000, 18_000, 19_000, 20_000]);
    assert.ok(samples.every((s) => s.vertices[0]!.recordsOutPerSecond === 100));
  });

  it('keeps ended checkpoints (newest at most maxCheckpoints) with duration and size, not pending ones', () => {
    const store = new SeriesStore({ maxCheckpoints: 2 });
    const cp = (id: number, status: 'pending' | 'completed' | 'aborted') => ({ id, status, savepoint: false, triggeredAt: id * 100, durationMs: status === 'pending' ? null : id, bytes: id * 10 });
    store.record(1000, [running('j')], details(job('j', 0, zero, zero, [cp(1, 'completed'), cp(2, 'aborted'), cp(3, 'pending')])));
    store.record(2000, [running('j')], details(job('j', 0, zero, zero, [cp(2, 'aborted'), cp(3, 'completed')])));
    assert.deepEqual(store.series('j')!.checkpoints, [
      { id: 2, status: 'aborted', savepoint: false, triggeredAt: 200, durationMs: 2, sizeBytes: null },
      { id: 3, status: 'completed', savepoint: false, triggeredAt: 300, durationMs: 3, sizeBytes: 30 },
    ]);
  });

  it('holds only jobs the Master lists, at most maxJobs (the newest), and drops an ended one after retainEndedMs', () => {
    const store = new SeriesStore({ maxJobs: 2, retainEndedMs: 10_000 });
    store.record(1000, [running('a', 1), running('b', 2), running('c', 3)], details(job('a', 0, zero, zero), job('b', 0, zero, zero), job('c', 0, zero, zero)));
    assert.equal(store.size, 2);
    assert.equal(store.series('a'), null);
    // b ended at 1500: kept until 11 500; c is no longer listed at all: gone at once.
    store.record(2000, [{ jobId: 'b', state: 'finished' as const, endedAt: 1500, submittedAt: 2 }], details());
    assert.equal(store.series('c'), null);
    assert.equal(store.series('b')!.samples.length, 1);
    store.record(11_000, [{ jobId: 'b', state: 'finished' as const, endedAt: 1500, submittedAt: 2 }], details());
    assert.notEqual(store.series('b'), null);
    store.record(11_500, [{ jobId: 'b', state: 'finished' as const, endedAt: 1500, submittedAt: 2 }], details());
    assert.equal(store.size, 0);
    // A job that ended before it was ever sampled gets no series.
    store.record(12_000, [{ jobId: 'd', state: 'failed' as const, endedAt: 11_900, submittedAt: 4 }], details());
    assert.equal(store.size, 0);
  });

  it('serves an empty series with the vertices of a job not sampled yet', () => {
    const empty = SeriesStore.empty(job('j', 0, zero, zero));
    assert.deepEqual(empty.vertices, [{ id: 'src', name: 'source', parallelism: 1 }, { id: 'snk', name: 'sink', parallelism: 2 }]);
    assert.deepEqual([empty.samples, empty.restarts, empty.failovers, empty.checkpoints], [[], [], [], []]);
  });
});

describe('dashboard - the series sampler follows leadership', () => {
  it('asks the Master only while this Master leads, and a standby keeps nothing', async () => {
    const leadership = new LeaderTracker('127.0.0.1:1', () => 0);
    let asks = 0;
    let at = 1000;
    const source = {
      jobs: async () => {
        asks++;
        return { summaries: [{ jobId: 'j', name: 'job', state: 'running' as const, submittedAt: 0, endedAt: null }], details: details(job('j', 0, zero, zero)) };
      },
    };
    const store = new SeriesStore();
    const isLeader = () => leadership.isLeader;
    // A standby (no leader known, then another leader): nothing asked, nothing kept.
    assert.equal(await sampleOnce(store, source, isLeader, () => at), true);
    leadership.observed({ sessionId: 's1', node: '127.0.0.1:2' });
    await sampleOnce(store, source, isLeader, () => at);
    assert.deepEqual([asks, store.size], [0, 0]);
    leadership.granted('s2');
    await sampleOnce(store, source, isLeader, () => (at += 1000));
    await sampleOnce(store, source, isLeader, () => (at += 1000));
    assert.deepEqual([asks, store.series('j')!.samples.length], [2, 2]);
    // Leadership lost: the next tick empties the store without asking.
    leadership.revoked();
    await sampleOnce(store, source, isLeader, () => (at += 1000));
    assert.deepEqual([asks, store.size], [2, 0]);
  });

  it('leaves a gap when the Master does not answer', async () => {
    const store = new SeriesStore();
    const failing = { jobs: () => Promise.reject(new Error('ask timed out')) };
    assert.equal(await sampleOnce(store, failing, () => true), false);
    assert.equal(store.size, 0);
  });

  it("keeps each registered TaskExecutor's resources once per heartbeat, CPU as cores busy, bounded to those registered", () => {
    const store = new SeriesStore({ maxTaskExecutors: 2 });
    const te = (id: string, at: number, cpuMicros: number) => ({
      id, node: 'n', dataAddress: 'd', slots: [], resources: { at, rssBytes: 100 + at, heapUsedBytes: 10, cpuMicros },
    });
    store.recordTaskExecutors([te('te-1', 1000, 0), { ...te('te-2', 1000, 0), resources: null }]);
    store.recordTaskExecutors([te('te-1', 1000, 0)]); // the same heartbeat seen again
    store.recordTaskExecutors([te('te-1', 2000, 500_000), te('te-2', 2000, 0), te('te-3', 2000, 0)]);
    const series = store.taskExecutorSeries();
    assert.deepEqual(series.taskExecutors.map((t) => t.id), ['te-1', 'te-2'], 'at most 2, by id');
    assert.deepEqual(series.taskExecutors[0]!.samples, [
      { at: 1000, rssBytes: 1100, heapUsedBytes: 10, cpuCores: null },
      { at: 2000, rssBytes: 2100, heapUsedBytes: 10, cpuCores: 0.5 }, // 0.5 s of CPU in 1 s
    ]);
    store.recordTaskExecutors([te('te-2', 3000, 0)]); // te-1 is no longer registered
    assert.deepEqual(store.taskExecutorSeries().taskExecutors.map((t) => t.id), ['te-2']);
    store.clear();
    assert.deepEqual(store.taskExecutorSeries().taskExecutors, []);
  });
});
