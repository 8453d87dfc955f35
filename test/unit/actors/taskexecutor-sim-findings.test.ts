/**
 * What the deterministic simulator (lib/sim) found in the TaskExecutor, pinned down on its
 * simulated clock: the test fails without its fix.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ActorSystem, reply } from '../../../lib/index.js';
import { SimulatedClock } from '../../../lib/util/simulated-clock.js';
import { taskExecutorMachine } from '../../../actors/taskexecutor/machine.js';
import { TaskExecutorErrorCode } from '../../../actors/taskexecutor/errors.js';
import { CodeCache } from '../../../actors/taskexecutor/code-cache.js';
import { TASK_EXECUTOR_LOCAL_EVENTS } from '../../../actors/taskexecutor/protocol.js';
import type { JobMasterMessage } from '../../../actors/jobmaster/protocol.js';
import type { ResourceManagerMessage } from '../../../actors/resourcemanager/protocol.js';
import type { TaskDeploymentDescriptor } from '../../../lib/task/descriptor.js';
import { TestPeer } from '../../support/test-peer.js';

const SESSION = '00000000000000000009';

describe('taskexecutor - what the simulator found', () => {
  let clock: SimulatedClock;
  let system: ActorSystem;
  beforeEach(async () => {
    clock = new SimulatedClock();
    system = await ActorSystem.start({ clusterId: 'te-unit', secret: 'te-unit-test-secret', listen: false, clock });
  });
  afterEach(() => system.terminate());

  it('tells the JobMaster that a task submitted to a slot freed since has failed, instead of dropping it', async () => {
    const rm = new TestPeer<ResourceManagerMessage>(system, 'resourcemanager');
    const jobMaster = new TestPeer<JobMasterMessage>(system, 'jobmaster-j');
    const deployed: string[] = [];
    const te = system.spawn('taskexecutor', taskExecutorMachine, {
      input: (env) => ({
        env,
        taskExecutorId: 'te-1',
        slots: [
          { index: 0, managedMemoryBytes: 0 },
          { index: 1, managedMemoryBytes: 0 },
        ],
        dataAddress: '127.0.0.1:7000',
        runtime: {
          deploy: (tdd) => void deployed.push(tdd.executionId),
          cancel: () => undefined,
          cancelJob: () => undefined,
          triggerCheckpoint: () => undefined,
          notifyCheckpointComplete: () => undefined,
          notifyCheckpointAborted: () => undefined,
        abortPendingCheckpoints: () => undefined,
        },
        codeCache: new CodeCache(path.join(tmpdir(), 'flinkish-te-unit-code')),
        registrationTimeoutMs: 5000,
        registrationRetryMs: 500,
        adoptionTimeoutMs: 15_000,
        onShutdown: () => undefined,
      }),
      localOnly: TASK_EXECUTOR_LOCAL_EVENTS,
    });
    te.tell({ type: 'te.leader.changed', masterNode: system.node });
    await clock.settle();
    reply(rm.last('rm.te.register')!.replyTo, { leaderSessionId: SESSION, resourceManagerId: rm.ref.path, heartbeatSilenceMs: 3000 });
    await clock.settle();
    // Slot 0 for the old attempt, freed, then slot 1 for the new one: the offer of slot 0 was taken all the same.
    const request = { type: 'te.slots.request', leaderSessionId: SESSION, jobId: 'j', group: 'default', jobMaster: jobMaster.ref } as const;
    te.tell({ ...request, allocationId: 'a-old', slotIndex: 0 });
    te.tell({ type: 'te.slots.free', leaderSessionId: SESSION, jobId: 'j' });
    te.tell({ ...request, allocationId: 'a-new', slotIndex: 1 });
    await clock.settle();
    const tdd = { jobId: 'j', attempt: 1, executionId: 'j/1/v/0' } as TaskDeploymentDescriptor;
    te.tell({ type: 'te.task.submit', leaderSessionId: SESSION, allocationId: 'a-old', codeHash: 'f'.repeat(64), tdd });
    await clock.settle();
    assert.deepEqual(deployed, []);
    const [state] = jobMaster.all('jm.task.state');
    assert.ok(state, 'the JobMaster hears of it');
    assert.equal(state.executionId, 'j/1/v/0');
    assert.equal(state.state, 'failed');
    assert.equal(state.error?.code, TaskExecutorErrorCode.SlotNotAllocated);
  });
});
