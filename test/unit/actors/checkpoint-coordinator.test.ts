import assert from 'node:assert/strict';
import { CheckpointCoordinator, MAX_QUEUED_SAVEPOINTS } from '../../../actors/jobmaster/checkpoint-coordinator.js';
import type { SavepointRequest } from '../../../actors/jobmaster/protocol.js';
import { defaultCheckpointConfig } from '../../../lib/dataflow/job-config.js';
import type { StateHandle } from '../../../lib/task/descriptor.js';

const handle = (vertexId: string, subtaskIndex: number, checkpointId: number): StateHandle => ({
  vertexId,
  subtaskIndex,
  path: `/cp/chk-${checkpointId}/${vertexId}-${subtaskIndex}.state`,
  bytes: 10,
});

/** Completes checkpoint `id` with one ack per subtask, as the JobMaster would. */
function completeWith(c: CheckpointCoordinator, id: number, now: number, acks: Array<[string, StateHandle]>): void {
  c.begin(id, 0, now, `/cp/chk-${id}`, false, acks.map(([e]) => e));
  let done;
  for (const [e, h] of acks) done = c.acknowledge(id, e, h);
  assert.ok(done, `checkpoint ${id} fully acknowledged`);
  c.metadata(done, now);
  assert.ok(c.complete(id, now));
}

describe('jobmaster - checkpoint coordinator', () => {
  it('completes a checkpoint whose participant finished before acknowledging, carrying its last handle', () => {
    const c = new CheckpointCoordinator(defaultCheckpointConfig(10), 'job');
    completeWith(c, 1, 0, [
      ['src-0', handle('src', 0, 1)],
      ['src-1', handle('src', 1, 1)],
    ]);
    c.begin(2, 0, 10, '/cp/chk-2', false, ['src-0', 'src-1']);
    assert.equal(c.acknowledge(2, 'src-1', handle('src', 1, 2)), undefined, 'src-0 still owes its ack');
    const complete = c.subtaskFinished('src-0');
    assert.deepEqual(complete.map((p) => p.id), [2]);
    assert.deepEqual(c.subtaskFinished('src-0'), [], 'returned once only');
    const metadata = c.metadata(complete[0]!, 20);
    assert.deepEqual(metadata.handles.map((h) => h.path).sort(), ['/cp/chk-1/src-0.state', '/cp/chk-2/src-1.state']);
  });

  it('a finished subtask leaves other pending checkpoints waiting for the rest', () => {
    const c = new CheckpointCoordinator({ ...defaultCheckpointConfig(10), maxConcurrent: 2 }, 'job');
    c.begin(1, 0, 0, '/cp/chk-1', false, ['a', 'b']);
    c.begin(2, 0, 5, '/cp/chk-2', false, ['a', 'b']);
    assert.deepEqual(c.subtaskFinished('a'), []);
    assert.equal(c.acknowledge(1, 'b', handle('v', 1, 1))?.id, 1);
    assert.equal(c.acknowledge(2, 'b', handle('v', 1, 2))?.id, 2);
  });

  it('on a simulated clock, a pending checkpoint expires exactly at its timeout, however far apart the triggers are', () => {
    const config = { ...defaultCheckpointConfig(600_000), timeoutMs: 50 };
    const c = new CheckpointCoordinator(config, 'job');
    let now = 1_000;
    c.begin(7, 0, now, '/cp/chk-7', false, ['a']);
    now += 49;
    assert.deepEqual(c.expired(now), []);
    now += 1;
    assert.deepEqual(c.expired(now).map((p) => p.id), [7]);
    assert.equal(c.abort(7, now, 'timed out')?.id, 7);
    assert.deepEqual(c.expired(now + 1_000_000), []);
    const stats = c.stats().find((s) => s.id === 7)!;
    assert.equal(stats.status, 'aborted');
    assert.equal(stats.durationMs, 50);
  });

  it('an id drawn ahead is used only while it is above every id begun (ids must grow)', () => {
    const c = new CheckpointCoordinator(defaultCheckpointConfig(100), 'job');
    assert.ok(c.wantsSpareId());
    c.fetchingSpareId = true;
    assert.equal(c.wantsSpareId(), false, 'one draw at a time');
    c.offerSpareId(2);
    assert.equal(c.takeSpareId(), 2);
    assert.equal(c.takeSpareId(), null, 'taken once');
    // A trigger drew its own id (5) while a draw ahead was on its way with a lower one (4).
    c.fetchingSpareId = true;
    c.begin(5, 0, 0, '/cp/chk-5', false, ['a']);
    c.offerSpareId(4);
    assert.equal(c.takeSpareId(), null, 'a lower id is dropped');
    c.offerSpareId(6);
    c.begin(7, 0, 1, '/cp/chk-7', false, ['a']);
    assert.equal(c.takeSpareId(), null, 'an id at or below one begun is dropped');
    c.offerSpareId(null);
    assert.ok(c.wantsSpareId(), 'after a failed draw, the next one may start');
  });

  it('queues savepoints while a checkpoint is in flight, boundedly, oldest first', () => {
    const c = new CheckpointCoordinator(defaultCheckpointConfig(500), 'job');
    c.begin(1, 0, 0, '/cp/chk-1', false, ['a']);
    assert.equal(c.canTrigger(0, true), false, 'one checkpoint in flight: even a savepoint waits');
    const requests = Array.from({ length: MAX_QUEUED_SAVEPOINTS + 1 }, (_, i) => ({ dir: `/sp/${i}`, stop: false }) as unknown as SavepointRequest);
    const tickets = requests.slice(0, -1).map((r) => c.queueSavepoint(r));
    assert.ok(tickets.every((t) => t !== null));
    assert.equal(new Set(tickets).size, MAX_QUEUED_SAVEPOINTS, 'one ticket each');
    assert.equal(c.queueSavepoint(requests.at(-1)!), null, 'the queue is bounded');
    assert.equal(c.savepointsQueued, MAX_QUEUED_SAVEPOINTS);
    c.abort(1, 5, 'timed out');
    assert.ok(c.canTrigger(5, true));
    assert.equal(c.takeQueuedSavepoint()?.dir, '/sp/0');
    assert.equal(c.isQueued(tickets[0]!), false, 'taken: its wait bound no longer applies');
    assert.ok(c.isQueued(tickets[1]!));
    assert.equal(c.drainQueuedSavepoints().length, MAX_QUEUED_SAVEPOINTS - 1);
    assert.equal(c.savepointsQueued, 0);
  });
});
