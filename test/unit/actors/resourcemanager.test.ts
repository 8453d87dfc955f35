/**
 * The ResourceManager machine on a simulated clock: heartbeats and their timeout, with test
 * peers for its TaskExecutors and JobMaster (test/support/test-peer.ts).
 */
import assert from 'node:assert/strict';
import { ActorSystem, reply, type ActorRef, type DeadLetter } from '../../../lib/index.js';
import { SimulatedClock } from '../../../lib/util/simulated-clock.js';
import { resourceManagerMachine } from '../../../actors/resourcemanager/machine.js';
import { RESOURCE_MANAGER_LOCAL_EVENTS, type ResourceManagerMessage } from '../../../actors/resourcemanager/protocol.js';
import type { JobMasterMessage } from '../../../actors/jobmaster/protocol.js';
import type { TaskExecutorMessage } from '../../../actors/taskexecutor/protocol.js';
import { TestPeer } from '../../support/test-peer.js';

const SESSION = '00000000000000000007';

describe('resourcemanager - machine on a simulated clock', () => {
  let clock: SimulatedClock;
  let system: ActorSystem;
  beforeEach(async () => {
    clock = new SimulatedClock();
    system = await ActorSystem.start({ clusterId: 'rm-unit', secret: 'rm-unit-test-secret', listen: false, clock });
  });
  afterEach(() => system.terminate());

  const spawnResourceManager = () =>
    system.spawn('resourcemanager', resourceManagerMachine, {
      input: (env) => ({ env, leaderSessionId: SESSION, heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 5000 }),
      localOnly: RESOURCE_MANAGER_LOCAL_EVENTS,
      reportUnhandled: true,
    });

  it('loses a TaskExecutor silent for longer than heartbeatTimeoutMs, at the first heartbeat after it, and tells the job', async () => {
    const rm = spawnResourceManager();
    const live = new TestPeer<TaskExecutorMessage>(system, 'te-live');
    const silent = new TestPeer<TaskExecutorMessage>(system, 'te-silent');
    const jobMaster = new TestPeer<JobMasterMessage>(system, 'jobmaster-j');
    for (const [i, te] of [live, silent].entries()) {
      const registered = rm.ask({ type: 'rm.te.register', taskExecutorId: te.ref.name, taskExecutor: te.ref, dataAddress: `127.0.0.1:${7000 + i}`, slots: [{ index: 0, managedMemoryBytes: 0 }] });
      await clock.settle();
      assert.equal((await registered).leaderSessionId, SESSION);
    }
    rm.tell({ type: 'rm.slots.declare', leaderSessionId: SESSION, jobId: 'j', jobMaster: jobMaster.ref, requirements: [{ group: 'default', count: 2 }] } as ResourceManagerMessage);
    await clock.settle();
    assert.equal(live.all('te.slots.request').length + silent.all('te.slots.request').length, 2, 'one slot of each is allocated to the job');

    const registeredAt = clock.now();
    // The live one answers every heartbeat; the silent one never does (its asks time out on the simulated clock).
    let answered = 0;
    const answerHeartbeats = () => {
      for (const hb of live.all('te.heartbeat').slice(answered)) {
        reply(hb.replyTo, { taskExecutorId: live.ref.name, slots: [{ index: 0, allocationId: null, jobId: 'j' }] });
        answered++;
      }
    };
    for (let t = 1; t <= 5; t++) {
      await clock.advance(1000);
      answerHeartbeats();
      await clock.settle();
    }
    assert.equal(clock.now() - registeredAt, 5000);
    assert.equal(silent.all('te.heartbeat').length, 5, 'asked at every interval');
    assert.deepEqual(jobMaster.all('jm.taskexecutor.lost'), [], 'silent for 5000 ms: not yet more than the timeout');

    await clock.advance(1000);
    answerHeartbeats();
    const lost = jobMaster.deliveries('jm.taskexecutor.lost');
    assert.equal(lost.length, 1);
    assert.equal(lost[0]!.at - registeredAt, 6000);
    assert.equal(lost[0]!.message.taskExecutorId, 'te-silent');
    assert.equal(lost[0]!.message.leaderSessionId, SESSION);
    assert.match(lost[0]!.message.reason, /no heartbeat for 6000 ms/);

    for (let t = 0; t < 60; t++) {
      await clock.advance(1000);
      answerHeartbeats();
      await clock.settle();
    }
    assert.equal(jobMaster.all('jm.taskexecutor.lost').length, 1, 'the TaskExecutor that answers is never lost');
    const overview = rm.ask({ type: 'rm.overview' });
    await clock.settle();
    assert.deepEqual((await overview).taskExecutors.map((te) => te.id), ['te-live']);
  });

  it('drops a heartbeat answer that arrives after it stopped (a leadership ended), instead of telling a stopped actor', async () => {
    const rm = spawnResourceManager();
    const te = new TestPeer<TaskExecutorMessage>(system, 'te-late');
    const letters: DeadLetter[] = [];
    system.events.on('dead-letter', (letter) => letters.push(letter));
    const registered = rm.ask({ type: 'rm.te.register', taskExecutorId: te.ref.name, taskExecutor: te.ref, dataAddress: '127.0.0.1:7000', slots: [{ index: 0, managedMemoryBytes: 0 }] });
    await clock.settle();
    await registered;
    await clock.advance(1000);
    const [heartbeat] = te.all('te.heartbeat');
    assert.ok(heartbeat, 'asked at the first interval');
    system.stop(rm);
    await clock.settle();
    reply(heartbeat.replyTo, { taskExecutorId: te.ref.name, slots: [{ index: 0, allocationId: null, jobId: null }] });
    await clock.settle();
    assert.deepEqual(letters, [], 'nothing told to the stopped ResourceManager');
  });

  it('fails an ask it takes no transition for at once with UNHANDLED_IN_STATE, as a dead letter, and goes on', async () => {
    const rm = spawnResourceManager();
    const letters: DeadLetter[] = [];
    system.events.on('dead-letter', (letter) => letters.push(letter));
    const unknown = (rm as unknown as ActorRef<{ type: 'rm.slots.rescale'; replyTo: ActorRef<unknown> }>).ask({ type: 'rm.slots.rescale' }, { timeoutMs: 60_000 }).then(
      () => assert.fail('answered'),
      (err: unknown) => err as Error & { code?: string; details?: unknown },
    );
    const askedAt = clock.now();
    await clock.settle();
    const err = await unknown;
    assert.equal(err.code, 'UNHANDLED_IN_STATE');
    assert.deepEqual(err.details, { actor: `resourcemanager@${system.node}`, state: 'serving', messageType: 'rm.slots.rescale' });
    assert.equal(clock.now(), askedAt, 'at once, not at the ask timeout');
    assert.deepEqual(letters, [{ target: 'resourcemanager', messageType: 'rm.slots.rescale', reason: 'not accepted in state serving' }]);
    const overview = rm.ask({ type: 'rm.overview' });
    await clock.settle();
    assert.equal((await overview).slotsTotal, 0);
  });

  it('takes a TaskExecutor registering again as a new one: its job is told of the loss, and its slot is free for the declaration that follows', async () => {
    const rm = spawnResourceManager();
    const te = new TestPeer<TaskExecutorMessage>(system, 'te-1');
    const jobMaster = new TestPeer<JobMasterMessage>(system, 'jobmaster-j');
    const register = async () => {
      const registered = rm.ask({ type: 'rm.te.register', taskExecutorId: 'te-1', taskExecutor: te.ref, dataAddress: '127.0.0.1:7000', slots: [{ index: 0, managedMemoryBytes: 0 }] });
      await clock.settle();
      return registered;
    };
    await register();
    rm.tell({ type: 'rm.slots.declare', leaderSessionId: SESSION, jobId: 'j', jobMaster: jobMaster.ref, requirements: [{ group: 'default', count: 1 }] });
    await clock.settle();
    const [first] = te.all('te.slots.request');
    assert.ok(first);

    // The same id again (a restarted process, or one that gave up on this leader's heartbeats).
    assert.equal((await register()).leaderSessionId, SESSION);
    assert.deepEqual(
      jobMaster.all('jm.taskexecutor.lost').map((m) => [m.taskExecutorId, m.reason, m.leaderSessionId]),
      [['te-1', 're-registered', SESSION]],
    );
    const slotsOf = async () => {
      const overview = rm.ask({ type: 'rm.overview' });
      await clock.settle();
      return (await overview).taskExecutors.map((t) => t.slots.map((s) => s.allocationId));
    };
    assert.deepEqual(await slotsOf(), [[null]], 'what it ran is gone');
    assert.equal(te.all('te.slots.request').length, 1);
    // The JobMaster restarts the job and declares its slots again: a new allocation.
    rm.tell({ type: 'rm.slots.declare', leaderSessionId: SESSION, jobId: 'j', jobMaster: jobMaster.ref, requirements: [{ group: 'default', count: 1 }] });
    await clock.settle();
    const second = te.all('te.slots.request')[1];
    assert.ok(second);
    assert.notEqual(second.allocationId, first.allocationId);
    assert.deepEqual(await slotsOf(), [[second.allocationId]]);
  });
});

describe('resourcemanager - slots and tasks kept through a leader change', () => {
  const OLD = '00000000000000000003';
  let clock: SimulatedClock;
  let system: ActorSystem;
  beforeEach(async () => {
    clock = new SimulatedClock();
    system = await ActorSystem.start({ clusterId: 'rm-unit', secret: 'rm-unit-test-secret', listen: false, clock });
  });
  afterEach(() => system.terminate());

  function spawn() {
    return system.spawn('resourcemanager', resourceManagerMachine, {
      input: (env) => ({ env, leaderSessionId: SESSION, heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 5000 }),
      localOnly: RESOURCE_MANAGER_LOCAL_EVENTS,
    });
  }

  /** A TaskExecutor that kept slot 0 for `jobId` (allocated by `session`) with one running task. */
  async function registerKept(rm: ReturnType<typeof spawn>, te: TestPeer<TaskExecutorMessage>, jobId: string, session = OLD): Promise<string[]> {
    const registered = rm.ask({
      type: 'rm.te.register',
      taskExecutorId: te.ref.name,
      taskExecutor: te.ref,
      dataAddress: '127.0.0.1:7000',
      slots: [{ index: 0, managedMemoryBytes: 0 }, { index: 1, managedMemoryBytes: 0 }],
      allocations: [{ slotIndex: 0, allocationId: `alloc-${session}-1`, jobId, group: 'default', leaderSessionId: session }],
      executions: [{ executionId: `${jobId}/2/v/0`, jobId, vertexId: 'v', subtaskIndex: 0, attempt: 2, allocationId: `alloc-${session}-1`, state: 'running', leaderSessionId: session }],
    });
    await clock.settle();
    return (await registered).freeJobs ?? [];
  }

  async function overview(rm: ReturnType<typeof spawn>) {
    const answer = rm.ask({ type: 'rm.overview' });
    await clock.settle();
    return answer;
  }

  it("keeps an older session's slots allocated and gives their reports to the job's JobMaster when it reconciles", async () => {
    const rm = spawn();
    const te = new TestPeer<TaskExecutorMessage>(system, 'te-1');
    const jm = new TestPeer<JobMasterMessage>(system, 'jobmaster-j');
    assert.deepEqual(await registerKept(rm, te, 'j'), [], 'nothing is freed before the job decides');
    assert.equal((await overview(rm)).slotsFree, 1, 'the kept slot stays allocated');
    rm.tell({ type: 'rm.job.reconcile', leaderSessionId: SESSION, jobId: 'j', jobMaster: jm.ref });
    await clock.settle();
    const [reported] = jm.all('jm.executions.reported');
    assert.ok(reported, 'the report goes to the reconciling JobMaster');
    assert.equal(reported.taskExecutorId, 'te-1');
    assert.deepEqual(reported.executions.map((e) => e.executionId), ['j/2/v/0']);
    // A later registration is forwarded at once while the job reconciles.
    const te2 = new TestPeer<TaskExecutorMessage>(system, 'te-2');
    await registerKept(rm, te2, 'j');
    assert.equal(jm.all('jm.executions.reported').length, 2);
  });

  it("frees the kept slots of a job whose JobMaster restarted it, and this session's own (it dropped them already)", async () => {
    const rm = spawn();
    const jm = new TestPeer<JobMasterMessage>(system, 'jobmaster-j');
    rm.tell({ type: 'rm.slots.declare', leaderSessionId: SESSION, jobId: 'j', jobMaster: jm.ref, requirements: [{ group: 'default', count: 5 }] });
    await clock.settle();
    const late = new TestPeer<TaskExecutorMessage>(system, 'te-late');
    assert.deepEqual(await registerKept(rm, late, 'j'), ['j'], 'the restarted job does not adopt: its TaskExecutor cancels the tasks');
    const own = new TestPeer<TaskExecutorMessage>(system, 'te-own');
    assert.deepEqual(await registerKept(rm, own, 'k', SESSION), ['k']);
    assert.equal((await overview(rm)).slotsFree, 4, 'no kept slot stays allocated');
  });

  it('frees a kept slot once its TaskExecutor reports it free (orphans nobody adopted, cancelled)', async () => {
    const rm = spawn();
    const te = new TestPeer<TaskExecutorMessage>(system, 'te-1');
    await registerKept(rm, te, 'gone');
    assert.equal((await overview(rm)).slotsFree, 1);
    await clock.advance(1000);
    for (const hb of te.all('te.heartbeat')) reply(hb.replyTo, { taskExecutorId: 'te-1', slots: [{ index: 0, allocationId: null, jobId: null }, { index: 1, allocationId: null, jobId: null }] });
    await clock.settle();
    assert.equal((await overview(rm)).slotsFree, 2);
  });

  it('frees the kept slots of jobs the Master did not recover (they ended meanwhile), then and at later registrations', async () => {
    const rm = spawn();
    const te = new TestPeer<TaskExecutorMessage>(system, 'te-1');
    await registerKept(rm, te, 'ended');
    rm.tell({ type: 'rm.jobs.recovered', leaderSessionId: SESSION, jobIds: ['j'] });
    await clock.settle();
    assert.deepEqual(te.all('te.slots.free').map((m) => m.jobId), ['ended']);
    assert.equal((await overview(rm)).slotsFree, 2);
    const late = new TestPeer<TaskExecutorMessage>(system, 'te-late');
    assert.deepEqual(await registerKept(rm, late, 'ended'), ['ended']);
    const kept = new TestPeer<TaskExecutorMessage>(system, 'te-kept');
    assert.deepEqual(await registerKept(rm, kept, 'j'), [], 'a recovered job may still adopt its tasks');
  });

  it('refuses commands of another leader session, answering asks with STALE_LEADER', async () => {
    const rm = spawn();
    const te = new TestPeer<TaskExecutorMessage>(system, 'te-1');
    await registerKept(rm, te, 'j');
    const refused = rm.ask({ type: 'rm.shutdown', leaderSessionId: OLD }, { timeoutMs: 1000 }).then(
      () => 'answered',
      (err: { code?: string }) => err.code,
    );
    await clock.settle();
    assert.equal(await refused, 'STALE_LEADER');
    assert.deepEqual(te.all('te.shutdown'), []);
    rm.tell({ type: 'rm.slots.release', leaderSessionId: OLD, jobId: 'j' });
    await clock.settle();
    assert.deepEqual(te.all('te.slots.free'), [], 'a stale release frees nothing');
  });
});
