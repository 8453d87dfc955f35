/**
 * The lifetimes of the JobMaster's checkpoint effects, on a simulated clock: a checkpoint id
 * drawn for a trigger belongs to the `running` state that triggered it (a restart or a lost
 * leadership cancels the draw, and a late id is never used), a savepoint given up while it
 * was starting still gets its answer, after its record says failed, and an aborted checkpoint's
 * files go although the attempt that took it is gone.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { JobMasterHarness } from '../../support/jobmaster-harness.js';
import type { RestartStrategy } from '../../../lib/dataflow/job-config.js';
import { SavepointState } from '../../../lib/ha/etcd-savepoints.js';
import { waitFor } from '../../support/wait.js';

const restartStrategy: RestartStrategy = { type: 'fixed-delay', attempts: 5, delayMs: 500 };
const checkpointing = { intervalMs: 1000, timeoutMs: 60_000 };

describe('jobmaster - lifetimes of its checkpoint effects, on a simulated clock', () => {
  let h: JobMasterHarness;
  afterEach(async () => h?.stop());

  /** Ask for a savepoint; what it was answered so far ('pending' until then). */
  function askSavepoint(): { outcome: () => unknown } {
    let outcome: unknown = 'pending';
    h.jobMaster.ask({ type: 'jm.savepoint', stop: false, requestId: 'r-1' }, { timeoutMs: 600_000 }).then(
      (answer) => (outcome = answer),
      (err: unknown) => (outcome = err),
    );
    return { outcome: () => outcome };
  }

  /** A running attempt (no periodic checkpoint soon) asked for a savepoint, its `operation` on the HA stores held in flight. */
  async function savepointHolding(operation: string, what: string) {
    h = await JobMasterHarness.start({ restartStrategy, checkpointing: { ...checkpointing, intervalMs: 60_000 } });
    await h.clock.settle();
    await h.runAttempt(0);
    const held = h.gate.hold(operation);
    const savepoint = askSavepoint();
    await h.clock.settle();
    assert.ok(held.entered, what);
    return { held, savepoint };
  }

  it('cancels the id draw of a trigger when the job restarts: the late id is never used, and the next attempt has one trigger in flight', async () => {
    h = await JobMasterHarness.start({ restartStrategy, checkpointing });
    await h.clock.settle();
    await h.runAttempt(0);
    const late = h.gate.hold('checkpointIds.getAndIncrement');
    await h.clock.advance(1000);
    assert.ok(late.entered, 'the periodic trigger of attempt 0 draws its checkpoint id');

    await h.failOnce(0);
    await h.clock.advance(500);
    assert.equal(h.state(), 'waitingForResources');
    await h.runAttempt(1);
    const current = h.gate.hold('checkpointIds.getAndIncrement');
    await h.clock.advance(1000);
    assert.ok(current.entered, 'attempt 1 triggers its first checkpoint');

    late.release(); // the draw of attempt 0 lands after all
    await h.clock.settle();
    await h.clock.advance(1000);
    assert.deepEqual(h.triggered(), [], 'neither the late id begins a checkpoint nor does a second trigger start beside the one in flight');

    current.release();
    await h.clock.settle();
    assert.deepEqual(h.triggered(), [2], "attempt 1's checkpoint begins with its own id");
    await h.clock.advance(1000);
    assert.deepEqual(h.triggered(), [2], 'one checkpoint at a time (maxConcurrent 1)');
    await h.acknowledge(1, 2);
    assert.equal((await h.checkpoints.latest(h.job.jobId))?.checkpointId, 2);
  });

  it('answers a savepoint still drawing its id when leadership is lost, with LEADERSHIP_LOST', async () => {
    const { held, savepoint } = await savepointHolding('checkpointIds.getAndIncrement', 'the savepoint draws its checkpoint id');

    await h.send({ type: 'jm.suspend' });
    assert.equal(h.state(), 'stopped');
    const err = savepoint.outcome() as { code?: string };
    assert.equal(err.code, 'LEADERSHIP_LOST', `answered at once, not at the ask's timeout: ${String(savepoint.outcome())}`);
    held.release();
    await h.clock.settle();
    assert.deepEqual(await h.stores.savepoints.list(h.job.jobId), [], 'the cancelled draw starts no savepoint record');
  });

  it('fails a savepoint whose record was being written when the job restarted, once that write landed, and then tells its requester', async () => {
    const { held: recording, savepoint } = await savepointHolding('savepoints.begin', 'the savepoint writes its in-progress record');

    await h.failOnce(0);
    assert.equal(h.state(), 'restarting.waitingToRestart');
    assert.equal(savepoint.outcome(), 'pending', 'not told before its record says failed');
    recording.release();
    // Its directory is deleted (real storage) before the answer.
    await waitFor('the savepoint answered', () => savepoint.outcome() !== 'pending');
    const [record] = await h.stores.savepoints.list(h.job.jobId);
    assert.equal(record?.state, SavepointState.Failed, 'the record landed, then was marked failed');
    const err = savepoint.outcome() as { code?: string; message?: string };
    assert.equal(err.code, 'SAVEPOINT_FAILED', String(savepoint.outcome()));
    assert.match(String(err.message), /savepoint not taken: the job is stopping or restarting/);
    assert.deepEqual(h.triggered(), [], 'its barriers never went out');
  });

  it("removes the files of a checkpoint declined just before a restart, after the attempt is gone", async () => {
    h = await JobMasterHarness.start({ restartStrategy, checkpointing });
    await h.clock.settle();
    await h.runAttempt(0);
    await h.clock.advance(1000);
    assert.deepEqual(h.triggered(), [1]);
    const dir = h.checkpointDir(1);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'source-0'), 'state');

    const [first] = h.deployed(0);
    h.jobMaster.tell({ type: 'jm.checkpoint.declined', executionId: first!.tdd.executionId, checkpointId: 1, error: { code: 'SNAPSHOT_FAILED', message: 'disk full' } });
    h.jobMaster.tell({ type: 'jm.task.state', executionId: first!.tdd.executionId, state: 'failed', error: { code: 'USER_FAILURE', message: 'boom' } });
    await h.clock.settle();
    await h.confirmCancellations(0);
    assert.equal(h.state(), 'restarting.waitingToRestart');
    assert.deepEqual(h.notified(1), ['abort', 'abort']);
    await waitFor('the files of the declined checkpoint removed', () => !existsSync(dir));
  });
});
