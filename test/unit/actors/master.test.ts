/**
 * The Master machine on a simulated clock: standalone (no HA), what it does with a message its
 * current state does not take; with the in-memory HA stores (behind an OperationGate, so that a
 * write is held in flight or failed), what happens to an ended job's result write when the
 * leadership ends.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ActorSystem, type ActorRef, type DeadLetter } from '../../../lib/index.js';
import { SimulatedClock } from '../../../lib/util/simulated-clock.js';
import { masterMachine, type MasterInput } from '../../../actors/master/machine.js';
import { MASTER_LOCAL_EVENTS, type MasterMessage } from '../../../actors/master/protocol.js';
import type { LeaderStores } from '../../../actors/master/ha.js';
import { resultWithoutReport } from '../../../actors/jobmaster/status.js';
import { HaUnavailableError } from '../../../lib/ha/errors.js';
import {
  InMemoryCheckpointIdCounter,
  InMemoryCompletedCheckpointStore,
  InMemoryJobGraphStore,
  InMemoryJobResultStore,
  InMemoryLeaderElection,
  InMemorySavepointStore,
  InMemorySinkClaimStore,
} from '../../../lib/ha/in-memory.js';
import { OperationGate } from '../../support/operation-gate.js';
import { TestPeer } from '../../support/test-peer.js';

/** A term of an in-memory election and its stores, every store's calls passing `gate`. */
function leaderStores(gate: OperationGate, clock: SimulatedClock): { election: InMemoryLeaderElection; sessionId: string; stores: LeaderStores } {
  const election = new InMemoryLeaderElection();
  const sessionId = election.grant();
  const guard = election.guard()!;
  const stores: LeaderStores = {
    guard,
    jobGraphs: gate.wrap('jobGraphs', new InMemoryJobGraphStore(guard)),
    jobResults: gate.wrap('jobResults', new InMemoryJobResultStore(guard)),
    checkpoints: (retained) => gate.wrap('checkpoints', new InMemoryCompletedCheckpointStore(guard, retained)),
    checkpointIds: gate.wrap('checkpointIds', new InMemoryCheckpointIdCounter(guard)),
    savepoints: gate.wrap('savepoints', new InMemorySavepointStore(guard)),
    sinkClaims: gate.wrap('sinkClaims', new InMemorySinkClaimStore(guard, () => clock.now())),
  };
  return { election, sessionId, stores };
}

describe('master - machine on a simulated clock', () => {
  let clock: SimulatedClock;
  let system: ActorSystem;
  let workDir: string;
  let master: ActorRef<MasterMessage>;
  let letters: DeadLetter[];
  beforeEach(async () => {
    clock = new SimulatedClock();
    workDir = mkdtempSync(path.join(tmpdir(), 'flinkish-master-unit-'));
    system = await ActorSystem.start({ clusterId: 'master-unit', secret: 'master-unit-test-secret', listen: false, clock });
    letters = [];
    system.events.on('dead-letter', (letter) => letters.push(letter));
  });
  afterEach(async () => {
    await system.terminate();
    rmSync(workDir, { recursive: true, force: true });
  });

  const spawnMaster = (ha: MasterInput['ha'] = null) => {
    master = system.spawn('master', masterMachine, {
      input: (env) => ({
        env,
        ha,
        settings: {
          workDir,
          checkpointDir: path.join(workDir, 'checkpoints'),
          savepointDir: path.join(workDir, 'savepoints'),
          slotRequestTimeoutMs: 1000,
          cancelTimeoutMs: 1000,
          heartbeatIntervalMs: 1000,
          heartbeatTimeoutMs: 5000,
          maxCollectedRecords: 100,
          defaultParallelism: 1,
          jobBuildTimeoutMs: 10_000,
          jobBuildMemoryMb: 32,
          jobModuleMaxBytes: 64 * 1024,
        },
      }),
      localOnly: MASTER_LOCAL_EVENTS,
      reportUnhandled: true,
    });
  };

  /** A Master granted leadership over stores whose operations `gate` can hold. */
  async function leadingMaster(gate: OperationGate): Promise<ReturnType<typeof leaderStores>> {
    const term = leaderStores(gate, clock);
    spawnMaster({ storesForCurrentTerm: () => term.stores });
    master.tell({ type: 'master.leadership.granted', sessionId: term.sessionId });
    await clock.settle();
    return term;
  }

  it('reports a message its state does not take as a dead letter naming the state (a revocation while standby)', async () => {
    spawnMaster();
    master.tell({ type: 'master.leadership.revoked' });
    await clock.settle();
    assert.deepEqual(letters, [{ target: 'master', messageType: 'master.leadership.revoked', reason: 'not accepted in state standby' }]);
    // It goes on: still a standby, refusing requests.
    const list = master.ask({ type: 'master.job.list' }).then(
      () => 'answered',
      (err: { code?: string }) => err.code,
    );
    await clock.settle();
    assert.equal(await list, 'NOT_LEADER');
  });

  it('takes the stop of an actor it watched in an ended term (a suspended JobMaster) while standby, without a dead letter', async () => {
    spawnMaster();
    const jobMaster = new TestPeer<{ type: string }>(system, 'jobmaster-j');
    system.watch(jobMaster.ref, master);
    system.stop(jobMaster.ref);
    await clock.settle();
    assert.deepEqual(letters, []);
  });

  it('fails an ask its state does not take at once with UNHANDLED_IN_STATE naming the actor, the state and the type', async () => {
    spawnMaster();
    master.tell({ type: 'master.leadership.granted', sessionId: '1' });
    await clock.settle();
    const listed = master.ask({ type: 'master.job.list' });
    await clock.settle();
    assert.deepEqual(await listed, [], 'serving');
    // A type this version does not know (a newer client): answered at once, not at the ask's timeout.
    const unknown = (master as unknown as ActorRef<{ type: 'master.job.rescale'; replyTo: ActorRef<unknown> }>).ask({ type: 'master.job.rescale' }, { timeoutMs: 60_000 }).then(
      () => assert.fail('answered'),
      (err: unknown) => err as Error & { code?: string; details?: unknown },
    );
    const askedAt = clock.now();
    await clock.settle();
    const err = await unknown;
    assert.equal(err.code, 'UNHANDLED_IN_STATE');
    assert.deepEqual(err.details, { actor: `master@${system.node}`, state: 'leader.serving', messageType: 'master.job.rescale' });
    assert.equal(clock.now(), askedAt);
    assert.equal(letters.at(-1)?.reason, 'not accepted in state leader.serving');
  });

  it('answers a relayed request whatever its state meanwhile, and at once with an error when the Master stops first', async () => {
    const gate = new OperationGate();
    const { election } = await leadingMaster(gate);
    const childrenOf = () => Object.keys((system.snapshotOf(master) as { children: Record<string, unknown> }).children).filter((id) => id.startsWith('relay-'));

    // A listing held in its store while the leadership ends: the requester still gets it.
    const held = gate.hold('savepoints.list');
    const listed = master.ask({ type: 'master.job.savepoints', jobId: 'j1' }, { timeoutMs: 60_000 });
    await clock.settle();
    assert.ok(held.entered);
    assert.equal(childrenOf().length, 1, 'the relay is a child of the machine');
    election.revoke();
    master.tell({ type: 'master.leadership.revoked' });
    await clock.settle();
    held.release();
    await clock.settle();
    assert.deepEqual(await listed, []);
    assert.deepEqual(childrenOf(), [], 'a relay that answered is forgotten, in standby too');

    // Leading again, a listing still held when the Master stops is answered at once: NOT_LEADER (it took nothing).
    master.tell({ type: 'master.leadership.granted', sessionId: election.grant() });
    await clock.settle();
    await clock.advance(1000);
    const stuck = gate.hold('savepoints.list');
    const unanswered = master.ask({ type: 'master.job.savepoints', jobId: 'j1' }, { timeoutMs: 60_000 }).then(
      () => assert.fail('answered'),
      (err: unknown) => err as Error & { code?: string },
    );
    await clock.settle();
    assert.ok(stuck.entered);
    const askedAt = clock.now();
    master.tell({ type: 'master.stop' });
    await clock.settle();
    const err = await unanswered;
    assert.equal(err.code, 'NOT_LEADER');
    assert.match(err.message, /stopped while it relayed master\.job\.savepoints/);
    assert.equal(clock.now(), askedAt, 'at once, not at the timeout');
    stuck.release();
    await clock.settle();
    assert.deepEqual(letters, []);
  });

  it("stops retrying an ended job's result write when its leadership ends, and writes a result that lands", async () => {
    const gate = new OperationGate();
    const { election, sessionId } = await leadingMaster(gate);
    const ended = (jobId: string) =>
      master.tell({ type: 'master.job.ended', leaderSessionId: sessionId, result: resultWithoutReport({ jobId, name: jobId, submittedAt: clock.now() }, { state: 'finished', endedAt: clock.now() }) });

    ended('landed');
    await clock.settle();
    const result = master.ask({ type: 'master.job.result', jobId: 'landed' });
    await clock.settle();
    assert.equal((await result)?.state, 'finished', 'durable, then given');
    assert.equal(gate.calls.get('jobResults.put'), 1);

    const first = gate.hold('jobResults.put');
    ended('unlucky');
    await clock.settle();
    assert.ok(first.entered);
    const second = gate.hold('jobResults.put');
    first.fail(new HaUnavailableError('put', new Error('etcd unreachable')));
    await clock.settle();
    await clock.advance(499);
    assert.equal(gate.calls.get('jobResults.put'), 2, 'not before its backoff');
    await clock.advance(1);
    assert.equal(gate.calls.get('jobResults.put'), 3, 'retried after its backoff');
    assert.ok(second.entered);
    const pending = master.ask({ type: 'master.job.result', jobId: 'unlucky' });
    await clock.settle();
    assert.equal(await pending, null, 'ended, not yet durable: no result yet');

    // The retry is in flight when the term ends: it fails, and nothing retries it.
    election.revoke();
    master.tell({ type: 'master.leadership.revoked' });
    await clock.settle();
    second.fail(new HaUnavailableError('put', new Error('etcd unreachable')));
    for (let t = 0; t < 120; t++) await clock.advance(1000);
    assert.equal(gate.calls.get('jobResults.put'), 3, 'no write after the term ended');
    assert.deepEqual(letters, [], 'nothing reported to a term that is over');
  });
});
