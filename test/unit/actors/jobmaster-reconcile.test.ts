/**
 * A new leader's JobMaster reconciling a recovered job, on a simulated clock: it adopts the
 * attempt whose every subtask is reported running, and restarts from the latest checkpoint when
 * one is missing at reconcileTimeoutMs (or its TaskExecutor is lost meanwhile).
 */
import assert from 'node:assert/strict';
import { JobMasterHarness } from '../../support/jobmaster-harness.js';
import type { JobMasterMessage } from '../../../actors/jobmaster/protocol.js';
import type { JobDetails } from '../../../actors/jobmaster/status.js';

const ATTEMPT = 4;
const JOB = 'job-1';

describe('jobmaster - reconciling a recovered job on a simulated clock', () => {
  let h: JobMasterHarness;
  afterEach(async () => h?.stop());

  /** The last checkpoint id the leader before drew from the counter. */
  let lastDrawn = -1;

  async function start(): Promise<void> {
    h = await JobMasterHarness.start({
      restartStrategy: { type: 'fixed-delay', attempts: 5, delayMs: 10 },
      checkpointing: { intervalMs: 1000 },
      recovered: { attempt: ATTEMPT, restarts: 2 },
      reconcileTimeoutMs: 5000,
      // The leader before completed checkpoint 6 of this attempt (the counter is past it).
      seed: async (stores) => {
        await stores.checkpoints(3).add(JOB, {
      checkpointId: 6,
      jobId: JOB,
      attempt: ATTEMPT,
      triggeredAt: 0,
      completedAt: 0,
      dir: '/nowhere/chk-6',
      savepoint: false,
      bytes: 0,
      handles: [],
        } as never);
        for (let i = 0; i < 7; i++) lastDrawn = await stores.checkpointIds.getAndIncrement(JOB);
      },
    });
    await h.clock.settle();
  }

  /** What TaskExecutor `n` kept of the attempt: the subtasks of slot group index `n`, all running. */
  function report(n: number, only?: (executionId: string) => boolean): JobMasterMessage {
    const te = h.taskExecutors[n]!;
    const subtasks = subtasksOf(n).filter((s) => !only || only(s.executionId));
    return {
      type: 'jm.executions.reported',
      leaderSessionId: h.leaderSessionId,
      taskExecutorId: te.ref.name,
      taskExecutor: te.ref,
      dataAddress: `127.0.0.1:${7000 + n}`,
      allocations: [{ slotIndex: 0, allocationId: `old-${n}`, jobId: h.job.jobId, group: 'default', leaderSessionId: '3' }],
      executions: subtasks.map((s) => ({
        executionId: s.executionId,
        jobId: h.job.jobId,
        vertexId: s.vertexId,
        subtaskIndex: s.index,
        attempt: ATTEMPT,
        allocationId: `old-${n}`,
        state: 'running' as const,
        leaderSessionId: '3',
      })),
    };
  }

  /** Subtask i of every vertex runs in slot i (slot sharing); parallelism 2, so TaskExecutor n holds index n. */
  function subtasksOf(n: number): Array<{ executionId: string; vertexId: string; index: number }> {
    const all: Array<{ executionId: string; vertexId: string; index: number }> = [];
    for (const v of h.job.jobGraph.vertices) {
      for (let i = 0; i < v.parallelism; i++) if (i % 2 === n) all.push({ executionId: `${h.job.jobId}/${ATTEMPT}/${v.id}/${i}`, vertexId: v.id, index: i });
    }
    return all;
  }

  async function status(): Promise<JobDetails> {
    const answer = h.jobMaster.ask({ type: 'jm.status' });
    await h.clock.settle();
    return answer;
  }

  it('adopts the attempt once every subtask is reported running: no deployment, attempt unchanged, the latest checkpoint re-notified, the next id from the counter', async () => {
    await start();
    assert.equal(h.state(), 'reconciling');
    assert.equal(h.resourceManager.all('rm.job.reconcile').length, 1, 'it asks for the reports');
    await h.send(report(0));
    assert.equal(h.state(), 'reconciling', 'one TaskExecutor reported: half the subtasks');
    await h.clock.advance(1000);
    await h.send(report(1));
    assert.equal(h.state(), 'running.periodic.active');
    assert.deepEqual(h.deployed(ATTEMPT), [], 'nothing is redeployed');
    assert.equal(h.resourceManager.all('rm.slots.declare').length, 0, 'no slots are asked for');
    assert.equal(h.resourceManager.all('rm.job.adopted').length, 1);
    for (const [n, te] of h.taskExecutors.entries()) {
      const adopt = te.last('te.tasks.adopt');
      assert.ok(adopt, `TaskExecutor ${n} hears of the adoption`);
      assert.equal(adopt.leaderSessionId, h.leaderSessionId, 'with the new fencing token');
      assert.equal(adopt.attempt, ATTEMPT);
      assert.deepEqual(adopt.executionIds.sort(), subtasksOf(n).map((s) => s.executionId).sort());
    }
    assert.deepEqual(h.notified(6), ['complete', 'complete'], 'every TaskExecutor hears again that checkpoint 6 completed');
    const details = await status();
    assert.equal(details.state, 'running');
    assert.equal(details.attempt, ATTEMPT, 'attempt unchanged');
    assert.equal(details.restarts, 2, 'no restart counted');
    assert.equal(details.failovers?.length, 1);
    assert.equal(details.failovers?.[0]?.adopted, true);
    assert.match(details.failovers![0]!.reason, new RegExp(`adopted by the new leader, term ${h.leaderSessionId}`));
    // Checkpointing resumes with the counter's next id.
    await h.clock.advance(1000);
    assert.ok(lastDrawn >= 6);
    assert.deepEqual(h.triggered(), [lastDrawn + 1]);
  });

  it('restarts from the latest checkpoint when a subtask is still missing at reconcileTimeoutMs, and releases the kept slots', async () => {
    await start();
    await h.send(report(0));
    const missing = subtasksOf(1)[0]!.executionId;
    await h.send(report(1, (id) => id !== missing));
    assert.equal(h.state(), 'reconciling');
    await h.clock.advance(4999);
    assert.equal(h.state(), 'reconciling', 'not a millisecond early');
    await h.clock.advance(1);
    assert.equal(h.resourceManager.all('rm.slots.release').length, 1, 'the kept slots are released: their tasks are cancelled');
    assert.equal(h.state(), 'waitingForResources');
    await h.runAttempt(ATTEMPT + 1);
    const deployed = h.deployed(ATTEMPT + 1);
    assert.ok(deployed.length > 0, 'the next attempt is deployed');
    assert.ok(deployed.every((d) => d.tdd.restore === undefined || d.tdd.restore.checkpointId === 6), 'from checkpoint 6');
    const details = await status();
    assert.equal(details.attempt, ATTEMPT + 1);
    assert.equal(details.failovers?.[0]?.adopted, false);
    assert.equal(h.taskExecutors.flatMap((te) => te.all('te.tasks.adopt')).length, 0, 'nothing adopted');
  });

  it('does not adopt the tasks of a TaskExecutor lost while reconciling', async () => {
    await start();
    await h.send(report(0));
    await h.send({ type: 'jm.taskexecutor.lost', leaderSessionId: h.leaderSessionId, taskExecutorId: h.taskExecutors[0]!.ref.name, reason: 'connection closed' });
    await h.send(report(1));
    assert.equal(h.state(), 'reconciling', "the lost TaskExecutor's half is missing now");
    await h.clock.advance(5000);
    assert.equal(h.state(), 'waitingForResources');
  });

  it('canceled while reconciling: ends canceled and releases the kept slots', async () => {
    await start();
    await h.send(report(0));
    const answer = h.jobMaster.ask({ type: 'jm.cancel' });
    await h.clock.settle();
    assert.deepEqual(await answer, { state: 'canceled' });
    assert.equal(h.master.last('master.job.ended')?.result.state, 'canceled');
    assert.ok(h.resourceManager.all('rm.slots.release').length >= 1, 'the kept slots are released');
  });

  it('refuses reports of another leader session', async () => {
    await start();
    await h.send({ ...report(0), leaderSessionId: '1' } as JobMasterMessage);
    await h.send(report(1));
    assert.equal(h.state(), 'reconciling', 'the stale report did not count');
  });

  it('cancels tasks of the job reported after the reconciliation, which are not in its graph', async () => {
    await start();
    await h.send(report(0));
    await h.send(report(1));
    assert.equal(h.state(), 'running.periodic.active');
    const late = report(0);
    if (late.type !== 'jm.executions.reported') throw new Error('unreachable');
    const stray = { ...late.executions[0]!, executionId: `${h.job.jobId}/${ATTEMPT - 1}/x/0`, attempt: ATTEMPT - 1 };
    await h.send({ ...late, executions: [stray] });
    assert.deepEqual(h.taskExecutors[0]!.all('te.task.cancel').map((m) => m.executionId), [stray.executionId]);
  });
});
