import assert from 'node:assert/strict';
import type { JobDetails } from '../../../actors/jobmaster/status.js';
import { operatorsOf, toCheckpoints, toJob, toJobSummary, toTaskExecutors } from '../../../lib/rest/shapes.js';

const zero = { recordsIn: 0, recordsOut: 0, backPressuredMs: 0 };

function details(extra: Partial<JobDetails> = {}): JobDetails {
  return {
    jobId: 'j1',
    name: 'demo',
    state: 'running',
    submittedAt: 1000,
    endedAt: null,
    vertices: [
      { id: 'op-0', name: 'Source -> map()', parallelism: 2, slotSharingGroup: 'default', operatorIds: ['op-0', 'op-1'], inputs: [] },
      { id: 'op-2', name: 'Sink', parallelism: 1, slotSharingGroup: 'default', operatorIds: ['op-2'], inputs: [{ source: 'op-0', partitioner: 'hash' }] },
    ],
    subtasks: [
      { vertexId: 'op-0', index: 1, executionId: 'e1', state: 'running', taskExecutorId: 'te-2', slotIndex: 0, metrics: { recordsIn: 0, recordsOut: 5, backPressuredMs: 7 } },
      { vertexId: 'op-0', index: 0, executionId: 'e0', state: 'running', taskExecutorId: 'te-1', slotIndex: 1, metrics: { recordsIn: 0, recordsOut: 3, backPressuredMs: 1 } },
      { vertexId: 'op-2', index: 0, executionId: 'e2', state: 'scheduled', taskExecutorId: null, slotIndex: null, metrics: zero },
    ],
    slots: [],
    attempt: 0,
    restarts: 0,
    checkpoints: [],
    restoredFrom: null,
    ...extra,
  } as JobDetails;
}

describe('rest shapes - what the API answers', () => {
  it('names each chained operator from the vertex name, or by id when the counts differ', () => {
    assert.deepEqual(operatorsOf('Source -> map()', ['a', 'b']), [{ id: 'a', name: 'Source' }, { id: 'b', name: 'map()' }]);
    assert.deepEqual(operatorsOf('weird', ['a', 'b']), [{ id: 'a', name: 'a' }, { id: 'b', name: 'b' }]);
  });

  it('groups subtasks under their vertex, in index order, with their slot, state counts and summed metrics', () => {
    const job = toJob(details(), 4000);
    assert.equal(job.durationMs, 3000);
    const [source, sink] = job.vertices;
    assert.deepEqual(source!.operators.map((o) => o.name), ['Source', 'map()']);
    assert.deepEqual(source!.subtasks.map((s) => [s.index, s.taskExecutorId, s.slotIndex]), [[0, 'te-1', 1], [1, 'te-2', 0]]);
    assert.deepEqual(source!.states, { running: 2 });
    assert.deepEqual(source!.metrics, { recordsIn: 0, recordsOut: 8, backPressuredMs: 8 });
    assert.deepEqual(sink!.inputs, [{ source: 'op-0', partitioner: 'hash' }]);
    assert.equal(sink!.subtasks[0]!.taskExecutorId, null);
  });

  it('uses the end time for the duration of an ended job', () => {
    assert.equal(toJobSummary({ jobId: 'j', name: 'n', state: 'finished', submittedAt: 1000, endedAt: 1500 }, 9999).durationMs, 500);
  });

  it('reports checkpoints with their size only once completed, and [] when there are none', () => {
    assert.deepEqual(toCheckpoints(details()), []);
    assert.deepEqual(toCheckpoints({ ...details(), checkpoints: undefined } as unknown as JobDetails), []);
    const checkpoints = [
      { id: 1, status: 'completed', savepoint: false, triggeredAt: 10, durationMs: 5, bytes: 2048 },
      { id: 2, status: 'aborted', savepoint: true, triggeredAt: 20, durationMs: null, bytes: 0, reason: 'timeout' },
    ];
    assert.deepEqual(toCheckpoints(details({ checkpoints } as Partial<JobDetails>)), [
      { id: 1, status: 'completed', savepoint: false, triggeredAt: 10, durationMs: 5, sizeBytes: 2048, failure: null },
      { id: 2, status: 'aborted', savepoint: true, triggeredAt: 20, durationMs: null, sizeBytes: null, failure: 'timeout' },
    ]);
  });

  it('lists TaskExecutors by id with their free slots', () => {
    const slot = (index: number, jobId: string | null) => ({ index, managedMemoryBytes: 1, jobId, allocationId: jobId ? `a${index}` : null, group: null });
    const tes = toTaskExecutors({
      leaderSessionId: '1',
      slotsTotal: 3,
      slotsFree: 2,
      waitingJobs: [],
      taskExecutors: [
        { id: 'te-2', node: 'n2', dataAddress: 'd2', slots: [slot(0, null)], resources: null },
        { id: 'te-1', node: 'n1', dataAddress: 'd1', slots: [slot(1, null), slot(0, 'j')], resources: { at: 5, rssBytes: 100, heapUsedBytes: 50, cpuMicros: 7 } },
      ],
    });
    assert.deepEqual(tes.map((t) => [t.id, t.slotsTotal, t.slotsFree, t.slots.map((s) => s.index)]), [['te-1', 2, 1, [0, 1]], ['te-2', 1, 1, [0]]]);
    assert.deepEqual(tes.map((t) => t.resources), [{ at: 5, rssBytes: 100, heapUsedBytes: 50, cpuMicros: 7 }, null]);
  });
});
