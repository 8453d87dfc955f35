/**
 * The Master machine's builds (one child actor per submission) in a real actor system of
 * this process: a build leaves the machine when it ends, and leaving `serving` terminates
 * the builds in progress, whose clients get NOT_LEADER.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ActorRef, ActorSystem } from '../../lib/index.js';
import { masterMachine } from '../../actors/master/machine.js';
import type { MasterMessage } from '../../actors/master/protocol.js';
import { startLocalSystem } from '../support/actor-nodes.js';
import { waitFor } from '../support/wait.js';

describe('master - builds are child actors of its machine', function () {
  this.timeout(30_000);
  let system: ActorSystem;
  let master: ActorRef<MasterMessage>;
  let workDir: string;

  beforeEach(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), 'flinkish-master-builds-'));
    system = await startLocalSystem({ listen: false });
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
          heartbeatIntervalMs: 200,
          heartbeatTimeoutMs: 1000,
          maxCollectedRecords: 100,
          defaultParallelism: 1,
          jobBuildTimeoutMs: 60_000,
          jobBuildMemoryMb: 32,
          jobModuleMaxBytes: 64 * 1024,
        },
      }),
      reportUnhandled: true,
    });
    master.tell({ type: 'master.leadership.granted', sessionId: '1' });
  });
  afterEach(async () => {
    await system?.terminate();
    rmSync(workDir, { recursive: true, force: true });
  });

  const builds = () => Object.keys((system.snapshotOf(master) as { children: Record<string, unknown> }).children).filter((id) => id.startsWith('build-'));
  const submit = (source: string) => master.ask({ type: 'master.job.submit', code: Buffer.from(source), fileName: 'job.js' }, { timeoutMs: 20_000 });

  it('forgets each build once it has answered', async () => {
    await waitFor('the Master to serve', async () => Array.isArray(await master.ask({ type: 'master.job.list' }, { timeoutMs: 1000 })));
    for (let i = 0; i < 5; i++) {
      await assert.rejects(submit(`export default () => { throw new Error('bad ${i}'); };`), { code: 'JOB_BUILD_FAILED' });
    }
    await waitFor('no builds left in the machine', () => builds().length === 0);
  });

  it('terminates a build in progress when leadership is revoked; its client gets NOT_LEADER', async () => {
    await waitFor('the Master to serve', async () => Array.isArray(await master.ask({ type: 'master.job.list' }, { timeoutMs: 1000 })));
    const answer = submit('export default () => { for (;;) {} };');
    await waitFor('a build to run', () => builds().length === 1);
    master.tell({ type: 'master.leadership.revoked' });
    await assert.rejects(answer, (err: Error & { code?: string }) => {
      assert.equal(err.code, 'NOT_LEADER');
      assert.match(err.message, /job\.js: this Master stopped leading/);
      return true;
    });
    assert.deepEqual(builds(), []);
  });

  it('builds one module at a time, lets two wait, refuses more at once, and cancels the waiting ones on step-down', async () => {
    await waitFor('the Master to serve', async () => Array.isArray(await master.ask({ type: 'master.job.list' }, { timeoutMs: 1000 })));
    const looping = submit('export default () => { for (;;) {} };');
    await waitFor('a build to run', () => builds().length === 1);
    const waiting = [submit('export default (env) => { env.fromSequence(1, 2).collect(); };'), submit('export default (env) => {};')];
    await waitFor('two builds to wait', () => builds().length === 3);
    await assert.rejects(submit('export default (env) => {};'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'JOB_BUILD_BUSY');
      assert.match(err.message, /job\.js: the Master is building another module and 2 more wait; submit again shortly/);
      return true;
    });
    master.tell({ type: 'master.leadership.revoked' });
    const outcomes = await Promise.allSettled([looping, ...waiting]);
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'rejected' ? (o.reason as { code?: string }).code : o.status)),
      ['NOT_LEADER', 'NOT_LEADER', 'NOT_LEADER'],
    );
    assert.deepEqual(builds(), []);
  });
});
