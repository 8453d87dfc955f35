/**
 * The JobMaster machine on a simulated clock: its timeouts, its restart strategies and its
 * restarts' restore points, each step deterministic. Its peers are test actors speaking the real
 * protocol (test/support/jobmaster-harness.ts); its HA stores are the in-memory ones, whose
 * operations a test holds in flight.
 */
import assert from 'node:assert/strict';
import { JobMasterHarness } from '../../support/jobmaster-harness.js';
import type { RestartStrategy } from '../../../lib/dataflow/job-config.js';

const noRestart: RestartStrategy = { type: 'none' };

describe('jobmaster - machine on a simulated clock', () => {
  let h: JobMasterHarness;
  afterEach(async () => h?.stop());

  /** From a failure of `attempt` to the next attempt's declaration: the restart delay, in simulated ms. */
  async function restartDelayAfterFailure(attempt: number): Promise<number> {
    await h.failOnce(attempt);
    assert.equal(h.state(), 'restarting.waitingToRestart');
    const from = h.clock.now();
    const declared = h.resourceManager.deliveries('rm.slots.declare').length;
    const due = h.clock.nextDue();
    assert.ok(due !== null);
    await h.clock.advanceTo(due - 1);
    assert.equal(h.state(), 'restarting.waitingToRestart', 'not a millisecond early');
    await h.clock.advanceTo(due);
    assert.equal(h.state(), 'waitingForResources');
    const next = h.resourceManager.deliveries('rm.slots.declare');
    assert.equal(next.length, declared + 1);
    return next.at(-1)!.at - from;
  }

  describe('timeouts', () => {
    it('fails the job with SLOT_REQUEST_TIMEOUT when its slots do not come within slotRequestTimeoutMs', async () => {
      h = await JobMasterHarness.start({ restartStrategy: { type: 'fixed-delay', attempts: 5, delayMs: 10 }, slotRequestTimeoutMs: 30_000 });
      await h.clock.settle();
      assert.equal(h.state(), 'waitingForResources');
      assert.equal(h.resourceManager.all('rm.slots.declare').length, 1);
      await h.clock.advance(29_999);
      assert.equal(h.state(), 'waitingForResources');
      assert.equal(h.master.all('master.job.ended').length, 0);
      await h.clock.advance(1);
      assert.equal(h.state(), 'stopped');
      const [ended] = h.master.all('master.job.ended');
      assert.equal(ended?.result.state, 'failed');
      assert.equal(ended?.result.failure?.code, 'SLOT_REQUEST_TIMEOUT');
      assert.equal(ended?.leaderSessionId, h.leaderSessionId);
      // A slot-request timeout is not restarted: no second declaration, and the slots are released.
      assert.equal(h.resourceManager.all('rm.slots.declare').length, 1);
      assert.ok(h.resourceManager.all('rm.slots.release').length >= 1);
    });

    it('ends a cancel whose subtasks never confirm after cancelTimeoutMs, the subtasks failed with CANCEL_TIMEOUT', async () => {
      h = await JobMasterHarness.start({ restartStrategy: noRestart, cancelTimeoutMs: 10_000 });
      await h.clock.settle();
      const deployed = await h.runAttempt(0);
      assert.equal(h.state(), 'running.periodic.active');
      let answer: unknown;
      void h.jobMaster.ask({ type: 'jm.cancel' }).then((a) => (answer = a));
      await h.clock.settle();
      assert.deepEqual(answer, { state: 'canceling' });
      assert.equal(h.state(), 'canceling');
      const cancels = h.taskExecutors.flatMap((te) => te.all('te.task.cancel'));
      assert.deepEqual(cancels.map((c) => c.executionId).sort(), deployed.map((d) => d.tdd.executionId).sort());
      await h.clock.advance(9_999);
      assert.equal(h.state(), 'canceling');
      await h.clock.advance(1);
      const [ended] = h.master.all('master.job.ended');
      assert.equal(ended?.result.state, 'canceled');
      const subtasks = (ended?.result.details as { subtasks: Array<{ state: string; error?: { code: string } }> }).subtasks;
      assert.ok(subtasks.every((s) => s.state === 'failed' && s.error?.code === 'CANCEL_TIMEOUT'), JSON.stringify(subtasks));
    });

    it('restarts after cancelTimeoutMs when the subtasks of a failed attempt never confirm their cancellation', async () => {
      h = await JobMasterHarness.start({ restartStrategy: { type: 'fixed-delay', attempts: 5, delayMs: 100 }, cancelTimeoutMs: 10_000 });
      await h.clock.settle();
      await h.runAttempt(0);
      const [first] = h.deployed(0);
      await h.send({ type: 'jm.task.state', executionId: first!.tdd.executionId, state: 'failed', error: { code: 'USER_FAILURE', message: 'boom' } });
      assert.equal(h.state(), 'restarting.stoppingTasks');
      await h.clock.advance(9_999);
      assert.equal(h.state(), 'restarting.stoppingTasks');
      await h.clock.advance(1);
      assert.equal(h.state(), 'restarting.waitingToRestart');
      assert.ok(h.resourceManager.all('rm.slots.release').length >= 1, 'the slots are released before the restart');
      await h.clock.advance(100);
      assert.equal(h.state(), 'waitingForResources');
    });
  });

  describe('restart strategies', () => {
    it('fixed-delay: restarts delayMs after each failure, attempts times, then fails the job', async () => {
      h = await JobMasterHarness.start({ restartStrategy: { type: 'fixed-delay', attempts: 2, delayMs: 1000 } });
      await h.clock.settle();
      await h.runAttempt(0);
      assert.equal(await restartDelayAfterFailure(0), 1000);
      await h.runAttempt(1);
      assert.equal(await restartDelayAfterFailure(1), 1000);
      await h.runAttempt(2);
      await h.failOnce(2);
      const [ended] = h.master.all('master.job.ended');
      assert.equal(ended?.result.state, 'failed');
      assert.match(ended!.result.failure!.message, /exhausted the 2 restart attempts/);
      assert.equal((ended!.result.details as { restarts: number }).restarts, 2);
    });

    it('exponential-delay: the delay grows by the multiplier up to maxDelayMs, and falls back after resetAfterMs of calm', async () => {
      h = await JobMasterHarness.start({
        restartStrategy: { type: 'exponential-delay', initialDelayMs: 100, multiplier: 2, maxDelayMs: 350, resetAfterMs: 60_000 },
      });
      await h.clock.settle();
      const delays: number[] = [];
      for (let attempt = 0; attempt < 4; attempt++) {
        await h.runAttempt(attempt);
        delays.push(await restartDelayAfterFailure(attempt));
      }
      assert.deepEqual(delays, [100, 200, 350, 350]);
      await h.runAttempt(4);
      await h.clock.advance(60_000);
      assert.equal(await restartDelayAfterFailure(4), 100, 'a failure after resetAfterMs of calm starts over');
    });

    it('failure-rate: restarts after delayMs until more than maxFailures fall within intervalMs', async () => {
      h = await JobMasterHarness.start({ restartStrategy: { type: 'failure-rate', maxFailures: 2, intervalMs: 10_000, delayMs: 500 } });
      await h.clock.settle();
      await h.runAttempt(0);
      assert.equal(await restartDelayAfterFailure(0), 500);
      await h.runAttempt(1);
      // Out of the window: the first failure no longer counts.
      await h.clock.advance(10_000);
      assert.equal(await restartDelayAfterFailure(1), 500);
      await h.runAttempt(2);
      assert.equal(await restartDelayAfterFailure(2), 500);
      await h.runAttempt(3);
      await h.failOnce(3);
      const [ended] = h.master.all('master.job.ended');
      assert.equal(ended?.result.state, 'failed');
      assert.match(ended!.result.failure!.message, /more than 2 failures within 10000 ms/);
    });

    it('none: the first failure fails the job', async () => {
      h = await JobMasterHarness.start({ restartStrategy: noRestart });
      await h.clock.settle();
      await h.runAttempt(0);
      await h.failOnce(0);
      const [ended] = h.master.all('master.job.ended');
      assert.equal(ended?.result.state, 'failed');
      assert.equal(ended?.result.failure?.code, 'USER_FAILURE');
      assert.match(ended!.result.failure!.message, /the restart strategy is none/);
    });
  });

  describe('restarting', () => {
    it('does not wait out the cancel timeout for the subtasks of a TaskExecutor lost while the job restarts', async () => {
      h = await JobMasterHarness.start({ restartStrategy: { type: 'fixed-delay', attempts: 5, delayMs: 100 }, cancelTimeoutMs: 10_000 });
      await h.clock.settle();
      const deployed = await h.runAttempt(0);
      const [first] = deployed;
      await h.send({ type: 'jm.task.state', executionId: first!.tdd.executionId, state: 'failed', error: { code: 'USER_FAILURE', message: 'boom' } });
      assert.equal(h.state(), 'restarting.stoppingTasks');
      // The subtasks of taskexecutor-0 confirm; taskexecutor-1 is lost before its subtasks do.
      const onFirst = new Set(deployed.filter((d) => d.te === 'taskexecutor-0').map((d) => d.tdd.executionId));
      for (const m of h.te('taskexecutor-0').all('te.task.cancel')) {
        if (onFirst.has(m.executionId)) h.jobMaster.tell({ type: 'jm.task.state', executionId: m.executionId, state: 'canceled' });
      }
      await h.clock.settle();
      assert.equal(h.state(), 'restarting.stoppingTasks');
      const at = h.clock.now();
      await h.send({ type: 'jm.taskexecutor.lost', leaderSessionId: h.leaderSessionId, taskExecutorId: 'taskexecutor-1', reason: 'connection lost' });
      assert.equal(h.state(), 'restarting.waitingToRestart', 'the lost subtasks count as stopped at once');
      await h.clock.advance(100);
      assert.equal(h.state(), 'waitingForResources');
      assert.equal(h.resourceManager.deliveries('rm.slots.declare').at(-1)!.at - at, 100);
    });

    it('ignores the loss of a TaskExecutor reported under another leader session', async () => {
      h = await JobMasterHarness.start({ restartStrategy: { type: 'fixed-delay', attempts: 5, delayMs: 100 }, cancelTimeoutMs: 10_000 });
      await h.clock.settle();
      await h.runAttempt(0);
      await h.send({ type: 'jm.taskexecutor.lost', leaderSessionId: 'an-older-session', taskExecutorId: 'taskexecutor-1', reason: 'forged' });
      assert.equal(h.state(), 'running.periodic.active');
    });
  });

  describe('messages its state does not accept', () => {
    it('fails an ask at once with UNHANDLED_IN_STATE naming the actor, the state and the message type', async () => {
      h = await JobMasterHarness.start({ restartStrategy: noRestart, checkpointing: { intervalMs: 1000 } });
      await h.clock.settle();
      assert.equal(h.state(), 'waitingForResources');
      let outcome: unknown = 'pending';
      h.jobMaster.ask({ type: 'jm.savepoint', stop: false, requestId: 'r-1' }, { timeoutMs: 60_000 }).then(
        () => (outcome = 'answered'),
        (err: Error & { code?: string; details?: Record<string, unknown> }) => (outcome = err),
      );
      await h.clock.settle();
      const err = outcome as Error & { code?: string; details?: Record<string, unknown> };
      assert.equal(err.code, 'UNHANDLED_IN_STATE', `without waiting for the ask's timeout: ${String(outcome)}`);
      assert.equal(err.details?.['state'], 'waitingForResources');
      assert.equal(err.details?.['messageType'], 'jm.savepoint');
      assert.match(String(err.details?.['actor']), /^jobmaster-job-1@/);
      assert.match(err.message, /does not accept jm\.savepoint in state waitingForResources/);
    });

    it('reports a told message its state does not accept as a dead letter, and goes on', async () => {
      h = await JobMasterHarness.start({ restartStrategy: { type: 'fixed-delay', attempts: 5, delayMs: 100 }, checkpointing: { intervalMs: 1000 } });
      const letters: Array<{ target: string; messageType: string; reason: string }> = [];
      h.system.events.on('dead-letter', (letter) => letters.push(letter));
      await h.clock.settle();
      const deployed = await h.runAttempt(0);
      await h.clock.advance(1000);
      const [first] = deployed;
      await h.send({ type: 'jm.task.state', executionId: first!.tdd.executionId, state: 'failed', error: { code: 'USER_FAILURE', message: 'boom' } });
      assert.equal(h.state(), 'restarting.stoppingTasks');
      const before = h.system.deadLetters;
      // A slow subtask acknowledges the checkpoint that the restart aborted.
      await h.send({ type: 'jm.checkpoint.ack', executionId: first!.tdd.executionId, checkpointId: 1, handle: { vertexId: first!.tdd.vertexId, subtaskIndex: 0, path: '/x', bytes: 1 } });
      assert.equal(h.system.deadLetters, before + 1);
      assert.deepEqual(letters.at(-1), { target: 'jobmaster-job-1', messageType: 'jm.checkpoint.ack', reason: 'not accepted in state restarting.stoppingTasks' });
      await h.confirmCancellations(0);
      assert.equal(h.state(), 'restarting.waitingToRestart');
    });
  });

  describe('restore point of a restart', () => {
    const checkpointing = { intervalMs: 1000, timeoutMs: 60_000 };
    const restartStrategy: RestartStrategy = { type: 'fixed-delay', attempts: 5, delayMs: 500 };

    /**
     * Checkpoint 1 completes; checkpoint 2 is fully acknowledged and its metadata store is held
     * in flight; then a subtask fails and the job restarts. Returns the held store.
     */
    async function restartWithCheckpointStoreInFlight() {
      h = await JobMasterHarness.start({ restartStrategy, checkpointing });
      await h.clock.settle();
      await h.runAttempt(0);
      await h.clock.advance(1000);
      assert.deepEqual(h.triggered(), [1]);
      await h.acknowledge(0, 1);
      assert.equal((await h.checkpoints.latest(h.job.jobId))?.checkpointId, 1);
      assert.deepEqual(h.notified(1), ['complete', 'complete']);

      const held = h.gate.hold('checkpoints.add');
      await h.clock.advance(1000);
      assert.deepEqual(h.triggered(), [1, 2]);
      await h.acknowledge(0, 2);
      assert.ok(held.entered, 'checkpoint 2 is fully acknowledged: its metadata is being stored');

      await h.failOnce(0);
      assert.equal(h.state(), 'restarting.waitingToRestart');
      // Aborted by the restart while being stored: the sinks keep its transactions until the outcome is known.
      assert.deepEqual(h.notified(2), []);
      await h.clock.advance(500);
      return held;
    }

    /** A running attempt whose checkpoint 1 is fully acknowledged, its metadata store held in flight. */
    async function storingFirstCheckpoint(options: Parameters<typeof JobMasterHarness.start>[0]) {
      h = await JobMasterHarness.start(options);
      await h.clock.settle();
      await h.runAttempt(0);
      const held = h.gate.hold('checkpoints.add');
      await h.clock.advance(1000);
      await h.acknowledge(0, 1);
      assert.ok(held.entered, 'checkpoint 1 is being stored');
      return held;
    }

    it('acts on no checkpoint whose store answers after its term ended (a paused leader waking up)', async () => {
      const held = await storingFirstCheckpoint({ restartStrategy, checkpointing });
      held.release(); // the record lands within the term...
      h.election.revoke(); // ...and its answer is seen only after the term ended
      await h.clock.settle();
      assert.equal((await h.checkpoints.latest(h.job.jobId))?.checkpointId, 1, 'the record landed: the next leader finds it');
      assert.deepEqual(h.notified(1), [], 'no sink is told to commit by a term that is over');
    });

    it('waits for a checkpoint store in flight and restarts from that checkpoint when the store lands', async () => {
      const held = await restartWithCheckpointStoreInFlight();
      assert.equal(h.state(), 'restarting.settlingCheckpointStores', 'the restart waits for the outcome of the store');
      const declared = h.resourceManager.all('rm.slots.declare').length;
      await h.clock.advance(5_000);
      assert.equal(h.state(), 'restarting.settlingCheckpointStores');
      assert.equal(h.resourceManager.all('rm.slots.declare').length, declared);

      held.release();
      await h.clock.settle();
      assert.equal(h.state(), 'waitingForResources');
      await h.offerSlots();
      const redeployed = h.deployed(1);
      assert.equal(redeployed.length, 5);
      assert.deepEqual([...new Set(redeployed.map((d) => d.tdd.restore?.checkpointId))], [2], 'every subtask restores checkpoint 2');
      assert.deepEqual(h.notified(2), [], 'its transactions are never aborted: the restore commits them');
    });

    it('restarts from the checkpoint before when the store in flight fails, and only then aborts it', async () => {
      const held = await restartWithCheckpointStoreInFlight();
      assert.equal(h.state(), 'restarting.settlingCheckpointStores');
      held.fail(new Error('etcd unreachable'));
      await h.clock.settle();
      assert.equal(h.state(), 'waitingForResources');
      assert.deepEqual(h.notified(2), ['abort', 'abort']);
      await h.offerSlots();
      const redeployed = h.deployed(1);
      assert.equal(redeployed.length, 5);
      assert.deepEqual([...new Set(redeployed.map((d) => d.tdd.restore?.checkpointId))], [1], 'every subtask restores checkpoint 1');
    });

    it('once suspended, starts no checkpoint store still queued and reports nothing of the one in flight', async () => {
      const held = await storingFirstCheckpoint({ restartStrategy, checkpointing: { ...checkpointing, maxConcurrent: 2 } });
      const letters: Array<{ target: string; messageType: string }> = [];
      h.system.events.on('dead-letter', (letter) => letters.push(letter));
      await h.clock.advance(1000);
      assert.deepEqual(h.triggered(), [1, 2]);
      await h.acknowledge(0, 2);
      assert.equal(h.gate.calls.get('checkpoints.add'), 1, 'checkpoint 2 waits for the store of checkpoint 1');

      await h.send({ type: 'jm.suspend' });
      assert.equal(h.state(), 'stopped');
      held.release();
      await h.clock.settle();
      assert.equal((await h.checkpoints.latest(h.job.jobId))?.checkpointId, 1, 'the write in flight lands: it cannot be taken back');
      assert.equal(h.gate.calls.get('checkpoints.add'), 1, 'the queued store of a suspended JobMaster never starts');
      assert.deepEqual(letters, [], 'no outcome told to the stopped JobMaster');
    });

    it('restarts without the outcome once the store has been in flight for the settle bound', async () => {
      await restartWithCheckpointStoreInFlight();
      assert.equal(h.state(), 'restarting.settlingCheckpointStores');
      await h.clock.advance(30_000);
      assert.equal(h.state(), 'waitingForResources');
      await h.offerSlots();
      assert.deepEqual([...new Set(h.deployed(1).map((d) => d.tdd.restore?.checkpointId))], [1]);
    });
  });
});
