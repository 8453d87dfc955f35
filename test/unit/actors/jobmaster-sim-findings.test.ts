/**
 * What the deterministic simulator (lib/sim) found in the JobMaster, pinned down on its
 * simulated clock: each test fails without its fix.
 */
import assert from 'node:assert/strict';
import { JobMasterHarness } from '../../support/jobmaster-harness.js';
import { HaUnavailableError } from '../../../lib/ha/errors.js';
import type { RestartStrategy } from '../../../lib/dataflow/job-config.js';

describe('jobmaster - what the simulator found', () => {
  let h: JobMasterHarness;
  afterEach(async () => h?.stop());
  const restartStrategy: RestartStrategy = { type: 'fixed-delay', attempts: 5, delayMs: 500 };

  it('starts the attempt over when a TaskExecutor is lost after the ResourceManager allocated it a slot, before the offer', async () => {
    h = await JobMasterHarness.start({ restartStrategy, slotRequestTimeoutMs: 30_000 });
    await h.clock.settle();
    assert.equal(h.state(), 'waitingForResources');
    const [group] = h.resourceManager.last('rm.slots.declare')!.requirements;
    // One slot is offered; the other TaskExecutor is lost before it offers its slot.
    const te = h.taskExecutors[0]!;
    await h.send({ type: 'jm.slots.offer', leaderSessionId: h.leaderSessionId, taskExecutorId: te.ref.name, taskExecutor: te.ref, dataAddress: '127.0.0.1:7000', slots: [{ allocationId: 'alloc-1', slotIndex: 0, group: group!.group }] });
    await h.send({ type: 'jm.taskexecutor.lost', leaderSessionId: h.leaderSessionId, taskExecutorId: 'taskexecutor-1', reason: 'connection lost' });
    assert.equal(h.state(), 'restarting.waitingToRestart', 'the slot it was allocated will never be offered');
    await h.clock.advance(500);
    assert.equal(h.state(), 'waitingForResources');
    assert.equal(h.resourceManager.all('rm.slots.declare').length, 2, 'its slots are declared again, long before the slot-request timeout');
  });

  it('takes no slot offered under another leader session (its ResourceManager is gone, its TaskExecutor dropped it)', async () => {
    h = await JobMasterHarness.start({ restartStrategy });
    await h.clock.settle();
    const [group] = h.resourceManager.last('rm.slots.declare')!.requirements;
    for (const te of h.taskExecutors) {
      await h.send({ type: 'jm.slots.offer', leaderSessionId: '00000000000000000000', taskExecutorId: te.ref.name, taskExecutor: te.ref, dataAddress: '127.0.0.1:7000', slots: [{ allocationId: `old-${te.ref.name}`, slotIndex: 0, group: group!.group }] });
    }
    assert.equal(h.state(), 'waitingForResources', 'nothing is deployed to slots of an earlier term');
    assert.deepEqual(h.deployed(0), []);
    await h.offerSlots();
    assert.ok(h.deployed(0).length > 0, 'its own term’s offers are taken');
    assert.ok(h.deployed(0).every((d) => !d.te.startsWith('old-')));
  });

  it('reads the restore point again while etcd cannot be reached, instead of failing the job', async () => {
    h = await JobMasterHarness.start({ restartStrategy, checkpointing: { intervalMs: 1000, timeoutMs: 60_000 } });
    await h.clock.settle();
    await h.runAttempt(0);
    await h.clock.advance(1000);
    await h.acknowledge(0, 1);
    const [first] = h.deployed(0);
    const held = h.gate.hold('checkpoints.latest');
    await h.send({ type: 'jm.task.state', executionId: first!.tdd.executionId, state: 'failed', error: { code: 'USER_FAILURE', message: 'boom' } });
    await h.confirmCancellations(0);
    await h.clock.advance(500);
    assert.ok(held.entered, 'the restart reads the restore point');
    held.fail(new HaUnavailableError('checkpoint latest', new Error('no answer')));
    await h.clock.settle();
    assert.equal(h.state(), 'created', 'not failed: etcd out of reach is transient');
    const reads = h.gate.calls.get('checkpoints.latest');
    await h.clock.advance(500);
    assert.equal(h.gate.calls.get('checkpoints.latest'), reads! + 1, 'read again');
    assert.equal(h.state(), 'waitingForResources');
    await h.offerSlots();
    assert.deepEqual([...new Set(h.deployed(1).map((d) => d.tdd.restore?.checkpointId))], [1]);
  });
});
