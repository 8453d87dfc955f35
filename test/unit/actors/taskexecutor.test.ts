/**
 * The TaskExecutor machine on a simulated clock, with a test peer for its ResourceManager
 * (test/support/test-peer.ts) and a task runtime that records what it is told.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ActorSystem, reply, type DeadLetter } from '../../../lib/index.js';
import { SimulatedClock } from '../../../lib/util/simulated-clock.js';
import { taskExecutorMachine, type TaskRuntime } from '../../../actors/taskexecutor/machine.js';
import { CodeCache } from '../../../actors/taskexecutor/code-cache.js';
import { TASK_EXECUTOR_LOCAL_EVENTS } from '../../../actors/taskexecutor/protocol.js';
import type { JobMasterMessage } from '../../../actors/jobmaster/protocol.js';
import type { ResourceManagerMessage } from '../../../actors/resourcemanager/protocol.js';
import { TestPeer } from '../../support/test-peer.js';

const SESSION = '00000000000000000009';

/** A task runtime that runs nothing and keeps the jobs it was told to cancel. */
function recordingRuntime(): TaskRuntime & { canceledJobs: string[] } {
  const canceledJobs: string[] = [];
  return {
    canceledJobs,
    deploy: () => undefined,
    cancel: () => undefined,
    cancelJob: (jobId) => void canceledJobs.push(jobId),
    triggerCheckpoint: () => undefined,
    notifyCheckpointComplete: () => undefined,
    notifyCheckpointAborted: () => undefined,
  };
}

describe('taskexecutor - machine on a simulated clock', () => {
  let clock: SimulatedClock;
  let system: ActorSystem;
  beforeEach(async () => {
    clock = new SimulatedClock();
    system = await ActorSystem.start({ clusterId: 'te-unit', secret: 'te-unit-test-secret', listen: false, clock });
  });
  afterEach(() => system.terminate());

  const spawnTaskExecutor = (runtime: TaskRuntime) =>
    system.spawn('taskexecutor', taskExecutorMachine, {
      input: (env) => ({
        env,
        taskExecutorId: 'te-1',
        slots: [{ index: 0, managedMemoryBytes: 0 }],
        dataAddress: '127.0.0.1:7000',
        runtime,
        codeCache: new CodeCache(path.join(tmpdir(), 'flinkish-te-unit-code')),
        registrationTimeoutMs: 5000,
        registrationRetryMs: 500,
        onShutdown: () => undefined,
      }),
      localOnly: TASK_EXECUTOR_LOCAL_EVENTS,
      reportUnhandled: true,
    });

  it('registers again, its tasks cancelled, once the ResourceManager stops heartbeating it for the silence it was told', async () => {
    const rm = new TestPeer<ResourceManagerMessage>(system, 'resourcemanager');
    const jobMaster = new TestPeer<JobMasterMessage>(system, 'jobmaster-j');
    const runtime = recordingRuntime();
    const te = spawnTaskExecutor(runtime);
    te.tell({ type: 'te.leader.changed', masterNode: system.node });
    await clock.settle();
    const registration = rm.last('rm.te.register');
    assert.ok(registration, 'it registers with the leader');
    reply(registration.replyTo, { leaderSessionId: SESSION, resourceManagerId: rm.ref.path, heartbeatSilenceMs: 3000 });
    await clock.settle();
    te.tell({ type: 'te.slots.request', leaderSessionId: SESSION, allocationId: 'a1', jobId: 'j', slotIndex: 0, group: 'default', jobMaster: jobMaster.ref });
    await clock.settle();
    assert.equal(jobMaster.all('jm.slots.offer').length, 1, 'the slot is offered to the job');

    // Heartbeats every second for a minute: it stays registered.
    for (let t = 0; t < 60; t++) {
      const report = te.ask({ type: 'te.heartbeat', leaderSessionId: SESSION });
      await clock.settle();
      assert.deepEqual((await report).slots, [{ index: 0, allocationId: 'a1', jobId: 'j' }]);
      await clock.advance(1000);
    }
    assert.equal(rm.all('rm.te.register').length, 1);
    assert.deepEqual(runtime.canceledJobs, []);

    // Silence: a heartbeat, then none. 3000 ms after the last one it gives up on the session.
    const last = te.ask({ type: 'te.heartbeat', leaderSessionId: SESSION });
    await clock.settle();
    await last;
    const silentFrom = clock.now();
    await clock.advance(2999);
    assert.equal(rm.all('rm.te.register').length, 1, 'not a millisecond early');
    await clock.advance(1);
    assert.equal(clock.now() - silentFrom, 3000);
    assert.equal(rm.all('rm.te.register').length, 2, 'it registers again');
    assert.deepEqual(runtime.canceledJobs, ['j'], "the dropped session's tasks are cancelled: the job restarted elsewhere");
    // The old session's commands are refused now.
    const stale = te.ask({ type: 'te.heartbeat', leaderSessionId: SESSION }, { timeoutMs: 1000 });
    const refused = stale.then(() => 'answered', () => 'refused');
    await clock.advance(1000);
    assert.equal(await refused, 'refused');
  });

  it('fails a heartbeat before it registered at once with UNHANDLED_IN_STATE naming its state, and a slot request is a dead letter', async () => {
    const te = spawnTaskExecutor(recordingRuntime());
    const jobMaster = new TestPeer<JobMasterMessage>(system, 'jobmaster-j');
    const letters: DeadLetter[] = [];
    system.events.on('dead-letter', (letter) => letters.push(letter));
    const heartbeat = te.ask({ type: 'te.heartbeat', leaderSessionId: SESSION }, { timeoutMs: 60_000 }).then(
      () => assert.fail('answered'),
      (err: unknown) => err as Error & { code?: string; details?: unknown },
    );
    const askedAt = clock.now();
    await clock.settle();
    const err = await heartbeat;
    assert.equal(err.code, 'UNHANDLED_IN_STATE');
    assert.deepEqual(err.details, { actor: `taskexecutor@${system.node}`, state: 'disconnected', messageType: 'te.heartbeat' });
    assert.equal(clock.now(), askedAt, 'at once, not at the ask timeout');
    te.tell({ type: 'te.slots.request', leaderSessionId: SESSION, allocationId: 'a1', jobId: 'j', slotIndex: 0, group: 'default', jobMaster: jobMaster.ref });
    await clock.settle();
    assert.deepEqual(
      letters.map((l) => [l.messageType, l.reason]),
      [
        ['te.heartbeat', 'not accepted in state disconnected'],
        ['te.slots.request', 'not accepted in state disconnected'],
      ],
    );
    assert.deepEqual(jobMaster.all('jm.slots.offer'), [], 'nothing offered without a leader');
  });
});
