/**
 * The TaskExecutor machine on a simulated clock, with a test peer for its ResourceManager
 * (test/support/test-peer.ts) and a task runtime that records what it is told.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ActorSystem, reply, type DeadLetter } from '../../../lib/index.js';
import { SimulatedClock } from '../../../lib/util/simulated-clock.js';
import { taskExecutorMachine, type TaskRuntime } from '../../../actors/taskexecutor/machine.js';
import { CodeCache } from '../../../actors/taskexecutor/code-cache.js';
import { TASK_EXECUTOR_LOCAL_EVENTS } from '../../../actors/taskexecutor/protocol.js';
import type { JobMasterMessage } from '../../../actors/jobmaster/protocol.js';
import type { ResourceManagerMessage } from '../../../actors/resourcemanager/protocol.js';
import type { MasterMessage } from '../../../actors/master/protocol.js';
import type { TaskDeploymentDescriptor } from '../../../lib/task/descriptor.js';
import { TestPeer } from '../../support/test-peer.js';
import { useTempDirs } from '../../support/temp-dirs.js';
import { waitFor } from '../../support/wait.js';
import { writeFileSync } from 'node:fs';

const SESSION = '00000000000000000009';

/** A task runtime that runs nothing and keeps what it was told to deploy and the jobs it was told to cancel. */
function recordingRuntime(): TaskRuntime & { canceledJobs: string[]; deployed: TaskDeploymentDescriptor[] } {
  const canceledJobs: string[] = [];
  const deployed: TaskDeploymentDescriptor[] = [];
  return {
    canceledJobs,
    deployed,
    deploy: (tdd) => void deployed.push(tdd),
    cancel: () => undefined,
    cancelJob: (jobId) => void canceledJobs.push(jobId),
    triggerCheckpoint: () => undefined,
    notifyCheckpointComplete: () => undefined,
    notifyCheckpointAborted: () => undefined,
    abortPendingCheckpoints: () => undefined,
  };
}

describe('taskexecutor - machine on a simulated clock', () => {
  let clock: SimulatedClock;
  let system: ActorSystem;
  let codeDir: string;
  let codeCache: CodeCache;
  beforeEach(async () => {
    codeDir = mkdtempSync(path.join(tmpdir(), 'flinkish-te-unit-code-'));
    codeCache = new CodeCache(codeDir);
    clock = new SimulatedClock();
    system = await ActorSystem.start({ clusterId: 'te-unit', secret: 'te-unit-test-secret', listen: false, clock });
  });
  afterEach(async () => {
    await system.terminate();
    rmSync(codeDir, { recursive: true, force: true });
  });

  const spawnTaskExecutor = (runtime: TaskRuntime) =>
    system.spawn('taskexecutor', taskExecutorMachine, {
      input: (env) => ({
        env,
        taskExecutorId: 'te-1',
        slots: [{ index: 0, managedMemoryBytes: 0 }],
        dataAddress: '127.0.0.1:7000',
        runtime,
        codeCache,
        registrationTimeoutMs: 5000,
        registrationRetryMs: 500,
        adoptionTimeoutMs: 15_000,
        onShutdown: () => undefined,
      }),
      localOnly: TASK_EXECUTOR_LOCAL_EVENTS,
      reportUnhandled: true,
    });

  /** A leader appears and its ResourceManager answers the registration with SESSION. */
  async function registerWith(te: ReturnType<typeof spawnTaskExecutor>, rm: TestPeer<ResourceManagerMessage>): Promise<void> {
    te.tell({ type: 'te.leader.changed', masterNode: system.node });
    await clock.settle();
    reply(rm.last('rm.te.register')!.replyTo, { leaderSessionId: SESSION, resourceManagerId: rm.ref.path, heartbeatSilenceMs: 60_000 });
    await clock.settle();
  }

  /** A heartbeat of `sessionId`, once the machine took it: the slot report, or the error's code. */
  async function heartbeatAnswer(te: ReturnType<typeof spawnTaskExecutor>, sessionId: string): Promise<unknown> {
    const asked = te.ask({ type: 'te.heartbeat', leaderSessionId: sessionId }).then(
      (report) => report,
      (err: { code?: string }) => err.code,
    );
    await clock.settle();
    return asked;
  }

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
    assert.deepEqual(runtime.canceledJobs, [], 'nothing ran in the slot: nothing to cancel');
    assert.deepEqual(rm.last('rm.te.register')?.allocations, [], 'a slot without a task is not kept for the old session');
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
    te.tell({ type: 'te.leader.changed', masterNode: null }); // no leader yet: taken, nothing to report
    const heartbeat = te.ask({ type: 'te.heartbeat', leaderSessionId: SESSION }, { timeoutMs: 60_000 }).then(
      () => assert.fail('answered'),
      (err: unknown) => err as Error & { code?: string; details?: unknown },
    );
    const askedAt = clock.now();
    await clock.settle();
    const err = await heartbeat;
    assert.equal(err.code, 'UNHANDLED_IN_STATE');
    assert.deepEqual(err.details, { actor: `taskexecutor@${system.node}`, state: 'session.disconnected,adoption.idle', messageType: 'te.heartbeat' });
    assert.equal(clock.now(), askedAt, 'at once, not at the ask timeout');
    te.tell({ type: 'te.slots.request', leaderSessionId: SESSION, allocationId: 'a1', jobId: 'j', slotIndex: 0, group: 'default', jobMaster: jobMaster.ref });
    await clock.settle();
    assert.deepEqual(
      letters.map((l) => [l.messageType, l.reason]),
      [
        ['te.heartbeat', 'not accepted in state session.disconnected,adoption.idle'],
        ['te.slots.request', 'not accepted in state session.disconnected,adoption.idle'],
      ],
    );
    assert.deepEqual(jobMaster.all('jm.slots.offer'), [], 'nothing offered without a leader');
  });

  it("deploys a task once its code arrives, and never one whose leader's session ended while its code was on the way", async () => {
    const rm = new TestPeer<ResourceManagerMessage>(system, 'resourcemanager');
    const master = new TestPeer<MasterMessage>(system, 'master');
    const jobMaster = new TestPeer<JobMasterMessage>(system, 'jobmaster-j');
    const runtime = recordingRuntime();
    const te = spawnTaskExecutor(runtime);
    await registerWith(te, rm);
    te.tell({ type: 'te.slots.request', leaderSessionId: SESSION, allocationId: 'a1', jobId: 'j', slotIndex: 0, group: 'default', jobMaster: jobMaster.ref });
    await clock.settle();

    const code = (text: string) => {
      const bytes = new TextEncoder().encode(text);
      return { bytes, hash: createHash('sha256').update(bytes).digest('hex') };
    };
    const task = (subtaskIndex: number) => ({ jobId: 'j', attempt: 0, executionId: `j/0/v/${subtaskIndex}` }) as TaskDeploymentDescriptor;
    const first = code('export default () => 1;');
    // The code cache looks on disk before it asks, and writes what it got: real I/O, waited for.
    const codeAsked = (n: number) => waitFor('the code asked of the Master', () => master.all('master.code.get')[n - 1], { intervalMs: 1 });
    te.tell({ type: 'te.task.submit', leaderSessionId: SESSION, allocationId: 'a1', codeHash: first.hash, tdd: task(0) });
    const firstAsked = await codeAsked(1);
    // A heartbeat while the code is on the way: the same session goes on, and so does the task.
    const heartbeat = te.ask({ type: 'te.heartbeat', leaderSessionId: SESSION });
    await clock.settle();
    assert.equal((await heartbeat).taskExecutorId, 'te-1');
    reply(firstAsked.replyTo, first.bytes);
    await waitFor('the task deployed', () => runtime.deployed.length > 0, { intervalMs: 1, timeoutMs: 2000 });
    assert.deepEqual(runtime.deployed.map((t) => t.executionId), ['j/0/v/0']);
    assert.equal(runtime.deployed[0]!.jobModulePath, path.join(codeDir, `${first.hash}.mjs`));

    const second = code('export default () => 2;');
    te.tell({ type: 'te.task.submit', leaderSessionId: SESSION, allocationId: 'a1', codeHash: second.hash, tdd: task(1) });
    const fetching = await codeAsked(2);
    assert.equal(fetching.hash, second.hash);
    // A new leader while the code is on the way: the old session's tasks are gone.
    te.tell({ type: 'te.leader.changed', masterNode: system.node });
    await clock.settle();
    assert.equal(rm.all('rm.te.register').length, 2, 'it registers with the new leader');
    reply(fetching.replyTo, second.bytes);
    // The fetch in flight is shared: once it settles, so has the TaskExecutor's (its continuation came first).
    await codeCache.fetch(second.hash, master.ref);
    await clock.settle();
    assert.deepEqual(runtime.deployed.map((t) => t.executionId), ['j/0/v/0'], 'the stale task is not deployed');
    assert.deepEqual(jobMaster.all('jm.task.state'), [], 'nor reported to the old JobMaster');
  });

  it("registers with the new leader after a leader change: a slot the old session left without a task is freed, and its commands are refused", async () => {
    const rm = new TestPeer<ResourceManagerMessage>(system, 'resourcemanager');
    const jobMaster = new TestPeer<JobMasterMessage>(system, 'jobmaster-j');
    const runtime = recordingRuntime();
    const te = spawnTaskExecutor(runtime);
    await registerWith(te, rm);
    te.tell({ type: 'te.slots.request', leaderSessionId: SESSION, allocationId: 'a1', jobId: 'j', slotIndex: 0, group: 'default', jobMaster: jobMaster.ref });
    await clock.settle();
    assert.equal(jobMaster.all('jm.slots.offer').length, 1);

    te.tell({ type: 'te.leader.changed', masterNode: system.node });
    await clock.settle();
    assert.deepEqual(runtime.canceledJobs, [], 'nothing ran in the slot: nothing to cancel');
    assert.equal(rm.all('rm.te.register').length, 2, 'it registers with the new leader at once');
    assert.deepEqual(rm.last('rm.te.register')?.allocations, [], 'a slot without a task is not kept for the old session');
    const NEW_SESSION = '00000000000000000010';
    reply(rm.last('rm.te.register')!.replyTo, { leaderSessionId: NEW_SESSION, resourceManagerId: rm.ref.path, heartbeatSilenceMs: 60_000 });
    await clock.settle();

    assert.equal(await heartbeatAnswer(te, SESSION), 'STALE_LEADER', 'the old session is refused at once');
    assert.deepEqual(await heartbeatAnswer(te, NEW_SESSION), { taskExecutorId: 'te-1', slots: [{ index: 0, allocationId: null, jobId: null }] }, 'its slot is free for the new leader');
    te.tell({ type: 'te.slots.request', leaderSessionId: SESSION, allocationId: 'a-stale', jobId: 'j', slotIndex: 0, group: 'default', jobMaster: jobMaster.ref });
    await clock.settle();
    assert.equal(jobMaster.all('jm.slots.offer').length, 1, "the old session's slot request is not taken");
  });

  it('refuses a command of an older session, or of a newer one it has not registered with, by a transition of its own: STALE_LEADER to an ask, no dead letter, nothing done', async () => {
    const rm = new TestPeer<ResourceManagerMessage>(system, 'resourcemanager');
    const jobMaster = new TestPeer<JobMasterMessage>(system, 'jobmaster-j');
    const te = spawnTaskExecutor(recordingRuntime());
    const letters: DeadLetter[] = [];
    system.events.on('dead-letter', (letter) => letters.push(letter));
    await registerWith(te, rm);

    const OLDER = '00000000000000000008';
    const NEWER = '00000000000000000010';
    for (const session of [OLDER, NEWER]) {
      assert.equal(await heartbeatAnswer(te, session), 'STALE_LEADER', `session ${session}`);
      te.tell({ type: 'te.slots.request', leaderSessionId: session, allocationId: `a-${session}`, jobId: 'j', slotIndex: 0, group: 'default', jobMaster: jobMaster.ref });
      await clock.settle();
    }
    assert.equal(jobMaster.all('jm.slots.offer').length, 0, 'no slot offered to a session it did not register with');
    assert.deepEqual(letters, [], 'a refusal is a transition the machine takes, not a message it does not accept');
    // A refused heartbeat does not count as one: the silence of the current session still ends the registration.
    await clock.advance(60_000);
    assert.equal(rm.all('rm.te.register').length, 2, 'it registers again after the silence of its session');
  });

  it('refuses an older session as STALE_LEADER while it registers again and while it waits to retry, not as a message its state does not take', async () => {
    const rm = new TestPeer<ResourceManagerMessage>(system, 'resourcemanager');
    const te = spawnTaskExecutor(recordingRuntime());
    const letters: DeadLetter[] = [];
    system.events.on('dead-letter', (letter) => letters.push(letter));
    await registerWith(te, rm);
    const OLDER = '00000000000000000008';
    const answer = (sessionId: string) => heartbeatAnswer(te, sessionId);

    // A leader change: registering with the new leader, its answer not in yet.
    te.tell({ type: 'te.leader.changed', masterNode: system.node });
    await clock.settle();
    assert.equal(rm.all('rm.te.register').length, 2, 'registering again');
    assert.equal(await answer(OLDER), 'STALE_LEADER', 'while registering');
    // No answer within the registration timeout: it waits to retry.
    await clock.advance(5000);
    assert.equal(rm.all('rm.te.register').length, 2, 'waiting to retry');
    assert.equal(await answer(OLDER), 'STALE_LEADER', 'while waiting to retry');
    assert.deepEqual(letters, [], 'refusals are transitions, not messages the state does not take');
    // The session it dropped is not stale, and not taken before the registration either: reported.
    assert.equal(await answer(SESSION), 'UNHANDLED_IN_STATE');
    assert.equal(letters.length, 1);
  });

  it('cancels a task whose code is still on the way at once (its JobMaster hears canceled), and drops it with its slots: it never runs', async () => {
    const rm = new TestPeer<ResourceManagerMessage>(system, 'resourcemanager');
    const master = new TestPeer<MasterMessage>(system, 'master');
    const jobMaster = new TestPeer<JobMasterMessage>(system, 'jobmaster-j');
    const runtime = recordingRuntime();
    const te = spawnTaskExecutor(runtime);
    await registerWith(te, rm);
    te.tell({ type: 'te.slots.request', leaderSessionId: SESSION, allocationId: 'a1', jobId: 'j', slotIndex: 0, group: 'default', jobMaster: jobMaster.ref });
    await clock.settle();
    const bytes = new TextEncoder().encode('export default () => 3;');
    const hash = createHash('sha256').update(bytes).digest('hex');
    const tdd = { jobId: 'j', attempt: 0, executionId: 'j/0/v/0' } as TaskDeploymentDescriptor;
    te.tell({ type: 'te.task.submit', leaderSessionId: SESSION, allocationId: 'a1', codeHash: hash, tdd });
    const fetching = await waitFor('the code asked of the Master', () => master.last('master.code.get'), { intervalMs: 1 });

    te.tell({ type: 'te.task.cancel', leaderSessionId: SESSION, executionId: tdd.executionId });
    await clock.settle();
    assert.deepEqual(jobMaster.all('jm.task.state'), [{ type: 'jm.task.state', executionId: tdd.executionId, state: 'canceled' }]);
    reply(fetching.replyTo, bytes);
    // The fetch in flight is shared: once it settles, so has the TaskExecutor's (its continuation came first).
    await codeCache.fetch(hash, master.ref);
    await clock.settle();
    assert.deepEqual(runtime.deployed, [], 'never deployed');
    assert.equal(jobMaster.all('jm.task.state').length, 1);

    // The next attempt's task, its code on the way when the job's slots are freed.
    const next = new TextEncoder().encode('export default () => 4;');
    const nextHash = createHash('sha256').update(next).digest('hex');
    te.tell({ type: 'te.task.submit', leaderSessionId: SESSION, allocationId: 'a1', codeHash: nextHash, tdd: { ...tdd, attempt: 1, executionId: 'j/1/v/0' } });
    const nextFetch = await waitFor('the next code asked of the Master', () => master.all('master.code.get')[1], { intervalMs: 1 });
    te.tell({ type: 'te.slots.free', leaderSessionId: SESSION, jobId: 'j' });
    await clock.settle();
    reply(nextFetch.replyTo, next);
    // The fetch in flight is shared: once it settles, so has the TaskExecutor's (its continuation came first).
    await codeCache.fetch(nextHash, master.ref);
    await clock.settle();
    assert.deepEqual(runtime.deployed, [], 'not deployed into a freed slot');
  });
});

describe('taskexecutor - tasks kept through a leader change, and fenced', () => {
  const OLD = '00000000000000000009';
  const NEW = '00000000000000000012';
  const HASH = 'a'.repeat(64);
  const tempDir = useTempDirs();
  let clock: SimulatedClock;
  let system: ActorSystem;
  beforeEach(async () => {
    clock = new SimulatedClock();
    system = await ActorSystem.start({ clusterId: 'te-unit', secret: 'te-unit-test-secret', listen: false, clock });
  });
  afterEach(() => system.terminate());

  /** A runtime that runs nothing and records every command it is given. */
  function commandLog(): TaskRuntime & { commands: string[] } {
    const commands: string[] = [];
    return {
      commands,
      deploy: (tdd) => void commands.push(`deploy ${tdd.executionId}`),
      cancel: (id) => void commands.push(`cancel ${id}`),
      cancelJob: (jobId) => void commands.push(`cancelJob ${jobId}`),
      triggerCheckpoint: (id, checkpointId) => void commands.push(`trigger ${id} ${checkpointId}`),
      notifyCheckpointComplete: (jobId, attempt, checkpointId) => void commands.push(`complete ${jobId} ${attempt} ${checkpointId}`),
      notifyCheckpointAborted: (jobId, attempt, checkpointId) => void commands.push(`abort ${jobId} ${attempt} ${checkpointId}`),
      abortPendingCheckpoints: (jobId) => void commands.push(`abortPending ${jobId}`),
    };
  }

  /** A TaskExecutor registered under OLD with one running task of job j (attempt 3) in slot 0. */
  async function runningTask(adoptionTimeoutMs = 15_000) {
    const rm = new TestPeer<ResourceManagerMessage>(system, 'resourcemanager');
    const oldJm = new TestPeer<JobMasterMessage>(system, 'jobmaster-old');
    const runtime = commandLog();
    const codeDir = tempDir('te-code');
    writeFileSync(path.join(codeDir, `${HASH}.mjs`), 'export default () => {};');
    const te = system.spawn('taskexecutor', taskExecutorMachine, {
      input: (env) => ({
        env,
        taskExecutorId: 'te-1',
        slots: [{ index: 0, managedMemoryBytes: 0 }],
        dataAddress: '127.0.0.1:7000',
        runtime,
        codeCache: new CodeCache(codeDir),
        registrationTimeoutMs: 5000,
        registrationRetryMs: 500,
        adoptionTimeoutMs,
        onShutdown: () => undefined,
      }),
      localOnly: TASK_EXECUTOR_LOCAL_EVENTS,
    });
    const register = async (session: string) => {
      await clock.settle();
      reply(rm.last('rm.te.register')!.replyTo, { leaderSessionId: session, resourceManagerId: rm.ref.path, heartbeatSilenceMs: 3000 });
      await clock.settle();
    };
    te.tell({ type: 'te.leader.changed', masterNode: system.node });
    await register(OLD);
    te.tell({ type: 'te.slots.request', leaderSessionId: OLD, allocationId: 'alloc-9-1', jobId: 'j', slotIndex: 0, group: 'default', jobMaster: oldJm.ref });
    const executionId = 'j/3/src/0';
    const tdd = { jobId: 'j', attempt: 3, vertexId: 'src', subtaskIndex: 0, executionId } as TaskDeploymentDescriptor;
    te.tell({ type: 'te.task.submit', leaderSessionId: OLD, allocationId: 'alloc-9-1', codeHash: HASH, tdd });
    await clock.settle();
    await waitFor('the task deployed', () => runtime.commands.includes(`deploy ${executionId}`), { timeoutMs: 5000 });
    te.tell({ type: 'te.task.event', event: { type: 'task.state', executionId, state: 'running' } });
    await clock.settle();
    return { te, rm, oldJm, runtime, executionId, register };
  }

  it('keeps its tasks running when the leader goes, reports them to the new leader, and obeys only the newer session once adopted', async () => {
    const { te, rm, oldJm, runtime, executionId, register } = await runningTask();
    // The leader goes (its ResourceManager stops heartbeating: a paused leader): nothing is cancelled.
    await clock.advance(3000);
    assert.equal(rm.all('rm.te.register').length, 2, 'it registers with whoever leads next');
    assert.ok(!runtime.commands.some((c) => c.startsWith('cancel')), `no cancel on a leader change: ${runtime.commands.join(', ')}`);
    assert.ok(runtime.commands.includes('abortPending j'), 'the checkpoints in flight are abandoned');
    // Its events go to no one meanwhile: the old JobMaster may be a zombie.
    const before = oldJm.log.length;
    te.tell({ type: 'te.task.event', event: { type: 'task.checkpoint.ack', executionId, checkpointId: 4, handle: { vertexId: 'src', subtaskIndex: 0, path: '/x', bytes: 1 } } });
    await clock.settle();
    assert.equal(oldJm.log.length, before, 'an orphan reports nothing to the old JobMaster');

    const registration = rm.last('rm.te.register')!;
    assert.deepEqual(registration.allocations, [{ slotIndex: 0, allocationId: 'alloc-9-1', jobId: 'j', group: 'default', leaderSessionId: OLD }]);
    assert.deepEqual(registration.executions, [
      { executionId, jobId: 'j', vertexId: 'src', subtaskIndex: 0, attempt: 3, allocationId: 'alloc-9-1', state: 'running', leaderSessionId: OLD },
    ]);
    await register(NEW);
    const newJm = new TestPeer<JobMasterMessage>(system, 'jobmaster-new');
    te.tell({ type: 'te.tasks.adopt', leaderSessionId: NEW, jobId: 'j', attempt: 3, executionIds: [executionId, 'j/3/gone/0'], jobMaster: newJm.ref });
    await clock.settle();
    assert.deepEqual(
      newJm.all('jm.task.state').map((m) => [m.executionId, m.state, m.error?.code]),
      [['j/3/gone/0', 'failed', 'TASK_NOT_FOUND']],
      'a task that ended meanwhile is reported failed at once',
    );

    // The zombie's commands: refused, asks answered STALE_LEADER; none reaches the task.
    const commandsBefore = runtime.commands.length;
    te.tell({ type: 'te.checkpoint.trigger', leaderSessionId: OLD, executionId, checkpointId: 5, options: { savepoint: false, dir: '/tmp/x' } });
    te.tell({ type: 'te.checkpoint.notify', leaderSessionId: OLD, jobId: 'j', attempt: 3, checkpointId: 4, outcome: 'complete' });
    te.tell({ type: 'te.task.cancel', leaderSessionId: OLD, executionId });
    te.tell({ type: 'te.slots.free', leaderSessionId: OLD, jobId: 'j' });
    const stale = te.ask({ type: 'te.heartbeat', leaderSessionId: OLD }, { timeoutMs: 1000 }).then(
      () => 'answered',
      (err: { code?: string }) => err.code,
    );
    await clock.settle();
    assert.equal(await stale, 'STALE_LEADER');
    assert.deepEqual(runtime.commands.slice(commandsBefore), [], 'no command of the older session reached the task');

    // The new session's commands act, and the task reports to the new JobMaster.
    te.tell({ type: 'te.checkpoint.trigger', leaderSessionId: NEW, executionId, checkpointId: 7, options: { savepoint: false, dir: '/tmp/x' } });
    te.tell({ type: 'te.checkpoint.notify', leaderSessionId: NEW, jobId: 'j', attempt: 3, checkpointId: 4, outcome: 'complete' });
    te.tell({ type: 'te.task.event', event: { type: 'task.checkpoint.ack', executionId, checkpointId: 7, handle: { vertexId: 'src', subtaskIndex: 0, path: '/y', bytes: 1 } } });
    await clock.settle();
    assert.deepEqual(runtime.commands.slice(commandsBefore), [`trigger ${executionId} 7`, 'complete j 3 4']);
    assert.equal(newJm.all('jm.checkpoint.ack').length, 1);
    // Adopted: the bound on orphans no longer applies while the new leader heartbeats.
    for (let t = 0; t < 30; t++) {
      const beat = te.ask({ type: 'te.heartbeat', leaderSessionId: NEW });
      await clock.settle();
      await beat;
      await clock.advance(1000);
    }
    assert.ok(!runtime.commands.includes(`cancel ${executionId}`));
  });

  it('cancels the tasks no leader adopted within adoptionTimeoutMs', async () => {
    const { rm, runtime, executionId, register } = await runningTask(10_000);
    const lostAt = clock.now() + 3000;
    await clock.advance(3000); // heartbeat silence: the leader is gone
    await register(NEW); // a new leader, whose JobMaster never adopts the task
    await clock.advanceTo(lostAt + 9_999);
    assert.ok(!runtime.commands.includes(`cancel ${executionId}`), 'not a millisecond early');
    await clock.advanceTo(lostAt + 10_000);
    assert.ok(runtime.commands.includes(`cancel ${executionId}`), 'cancelled at the bound');
    assert.ok(rm.all('rm.te.register').length >= 2);
  });

  it("acts on the new session's commands that arrive with its registration's answer, once registered", async () => {
    const { te, rm, runtime } = await runningTask();
    await clock.advance(3000);
    await clock.settle();
    // The answer and the ResourceManager's first command in one read: the command reaches the
    // machine first (the answer settles a promise, after the read).
    te.tell({ type: 'te.slots.free', leaderSessionId: NEW, jobId: 'j' });
    await clock.settle();
    assert.ok(!runtime.commands.includes('cancelJob j'), 'not registered with that session yet');
    reply(rm.last('rm.te.register')!.replyTo, { leaderSessionId: NEW, resourceManagerId: rm.ref.path, heartbeatSilenceMs: 3000 });
    await clock.settle();
    assert.ok(runtime.commands.includes('cancelJob j'), `the early command acted: ${runtime.commands.join(', ')}`);
  });

  it('cancels the kept tasks of the jobs its registration answer names (nobody adopts them)', async () => {
    const { te, rm, runtime } = await runningTask();
    await clock.advance(3000);
    await clock.settle();
    reply(rm.last('rm.te.register')!.replyTo, { leaderSessionId: NEW, resourceManagerId: rm.ref.path, heartbeatSilenceMs: 3000, freeJobs: ['j'] });
    await clock.settle();
    assert.ok(runtime.commands.includes('cancelJob j'));
    const report = te.ask({ type: 'te.heartbeat', leaderSessionId: NEW });
    await clock.settle();
    assert.deepEqual((await report).slots, [{ index: 0, allocationId: null, jobId: null }], 'its slot is free');
  });

  it('refuses a registration answered by an older session than it accepted', async () => {
    const { rm, register } = await runningTask();
    await clock.advance(3000);
    await register(NEW);
    await clock.advance(3000); // silence again
    await register(OLD); // a zombie's ResourceManager answers
    await clock.advance(500);
    assert.equal(rm.all('rm.te.register').length, 4, 'it retries: the older session is no leader of its');
  });
});
