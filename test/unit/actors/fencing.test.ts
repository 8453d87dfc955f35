/**
 * The one fencing guard (actors/fencing.ts): its order of sessions, the TaskExecutor's fence
 * that only moves forward, and the Master refusing a stale term's job end (the other actors'
 * stale-session tests are beside their machines' tests).
 */
import assert from 'node:assert/strict';
import { ActorSystem } from '../../../lib/index.js';
import { SimulatedClock } from '../../../lib/util/simulated-clock.js';
import { createLogger } from '../../../lib/logging.js';
import { LeaderFence, admitSession, compareSessions } from '../../../actors/fencing.js';
import { masterMachine } from '../../../actors/master/machine.js';
import { MASTER_LOCAL_EVENTS, type JobSummary } from '../../../actors/master/protocol.js';
import { resultWithoutReport } from '../../../actors/jobmaster/status.js';
import { useTempDirs } from '../../support/temp-dirs.js';

const log = createLogger({ name: 'fencing-unit', level: 'silent' });

describe('fencing - one guard for every leader-owned message', () => {
  const tempDir = useTempDirs();

  it('orders sessions numerically, not as text', () => {
    assert.ok(compareSessions('9', '10') < 0);
    assert.ok(compareSessions('00000000000000000012', '9') > 0);
    assert.equal(compareSessions('7', '7'), 0);
  });

  it('a fence only moves forward and refuses commands of older sessions', () => {
    const fence = new LeaderFence();
    assert.equal(fence.admit({ type: 'te.heartbeat', leaderSessionId: '5' }, log), true, 'nothing accepted yet: nothing is stale');
    assert.equal(fence.accept('7'), true);
    assert.equal(fence.accept('5'), false, 'an older registration is refused');
    assert.equal(fence.session, '7');
    assert.equal(fence.admit({ type: 'te.checkpoint.trigger', leaderSessionId: '5' }, log), false);
    assert.equal(fence.admit({ type: 'te.checkpoint.trigger', leaderSessionId: '7' }, log), true);
    assert.equal(fence.admit({ type: 'te.checkpoint.trigger', leaderSessionId: '8' }, log), true, 'a newer session passes the fence');
    assert.equal(fence.admit({ type: 'te.checkpoint.trigger' }, log), false, 'a command without a session is refused');
  });

  it('a term-bound component admits its own session only', () => {
    assert.equal(admitSession('7', { type: 'rm.slots.release', leaderSessionId: '7' }, log), true);
    assert.equal(admitSession('7', { type: 'rm.slots.release', leaderSessionId: '6' }, log), false);
    assert.equal(admitSession('7', { type: 'rm.slots.release', leaderSessionId: '8' }, log), false);
    assert.equal(admitSession(null, { type: 'rm.slots.release', leaderSessionId: '8' }, log), false);
  });

  it("the Master ignores the job end of a JobMaster of an earlier term", async () => {
    const clock = new SimulatedClock();
    const system = await ActorSystem.start({ clusterId: 'fencing-unit', secret: 'fencing-unit-secret', listen: false, clock });
    try {
      const dir = tempDir('master');
      const master = system.spawn('master', masterMachine, {
        input: (env) => ({
          env,
          settings: {
            workDir: dir,
            checkpointDir: `${dir}/checkpoints`,
            savepointDir: `${dir}/savepoints`,
            slotRequestTimeoutMs: 1000,
            cancelTimeoutMs: 1000,
            heartbeatIntervalMs: 1000,
            heartbeatTimeoutMs: 5000,
            maxCollectedRecords: 10,
            defaultParallelism: 1,
            jobBuildTimeoutMs: 1000,
            jobBuildMemoryMb: 64,
            jobModuleMaxBytes: 1024,
          },
          ha: null,
        }),
        localOnly: MASTER_LOCAL_EVENTS,
      });
      master.tell({ type: 'master.leadership.granted', sessionId: '7' });
      await clock.settle();
      const result = { ...resultWithoutReport({ jobId: 'j', name: 'j', submittedAt: 0 }, { state: 'finished', endedAt: 1 }) };
      master.tell({ type: 'master.job.ended', leaderSessionId: '6', result });
      await clock.settle();
      const listed = master.ask({ type: 'master.job.list' } as never) as Promise<JobSummary[]>;
      await clock.settle();
      assert.deepEqual(await listed, [], 'the stale job end is refused');
      master.tell({ type: 'master.job.ended', leaderSessionId: '7', result });
      await clock.settle();
      const again = master.ask({ type: 'master.job.list' } as never) as Promise<JobSummary[]>;
      await clock.settle();
      assert.deepEqual((await again).map((j) => j.jobId), ['j'], "its own term's job end is taken");
    } finally {
      await system.terminate();
    }
  });
});
