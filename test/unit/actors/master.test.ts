/**
 * The Master machine on a simulated clock, standalone (no HA): what it does with a message its
 * current state does not take.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ActorSystem, type ActorRef, type DeadLetter } from '../../../lib/index.js';
import { SimulatedClock } from '../../../lib/util/simulated-clock.js';
import { masterMachine } from '../../../actors/master/machine.js';
import { MASTER_LOCAL_EVENTS, type MasterMessage } from '../../../actors/master/protocol.js';

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
    master = system.spawn('master', masterMachine, {
      input: (env) => ({
        env,
        ha: null,
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
  });
  afterEach(async () => {
    await system.terminate();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('reports a message its state does not take as a dead letter naming the state (a revocation while standby)', async () => {
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

  it('fails an ask its state does not take at once with UNHANDLED_IN_STATE naming the actor, the state and the type', async () => {
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
});
