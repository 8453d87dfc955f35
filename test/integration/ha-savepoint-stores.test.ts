import assert from 'node:assert/strict';
import { useEtcd, uniqueClusterId } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';
import { EtcdHaServices, FencingError, type EtcdCluster, type EtcdLeaderGuard } from '../../lib/ha/index.js';
import { EtcdSavepointStore, SavepointState, type SavepointRecord } from '../../lib/ha/etcd-savepoints.js';
import { EtcdSinkClaimStore } from '../../lib/ha/etcd-sink-claims.js';
import { createLogger } from '../../lib/logging.js';

const opened: EtcdHaServices[] = [];

async function leader(cluster: EtcdCluster, clusterId = uniqueClusterId()): Promise<{ ha: EtcdHaServices; guard: EtcdLeaderGuard; resign: () => Promise<void> }> {
  const ha = new EtcdHaServices({ ...cluster.clientOptions, clusterId, log: createLogger({ level: 'silent' }) });
  opened.push(ha);
  const election = ha.leaderElection();
  let granted = false;
  election.campaign({ grantLeadership: () => (granted = true), revokeLeadership: () => (granted = false) }, 'addr');
  await waitFor('leadership', () => granted);
  return { ha, guard: election.guard()!, resign: () => election.resign() };
}

const record = (checkpointId: number, stop = true): SavepointRecord => ({
  jobId: 'job-1',
  checkpointId,
  path: `/sp/savepoint-job-1-${checkpointId}`,
  stop,
  requestId: `req-${checkpointId}`,
  state: SavepointState.InProgress,
  triggeredAt: 1,
  endedAt: null,
});

describe('ha stores - savepoints and sink claims (real etcd, 1 member)', function () {
  this.timeout(30_000);
  const etcd = useEtcd(1);
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((ha) => ha.close()));
  });

  it('savepoint store - completion and the stop intent land together; failing removes only its own intent', async () => {
    const { ha, guard } = await leader(etcd.cluster);
    const store = new EtcdSavepointStore({ root: ha.root, guard });
    await store.begin(record(3));
    assert.deepEqual((await store.list('job-1')).map((r) => r.state), ['in-progress']);
    assert.equal(await store.stopIntent('job-1'), undefined, 'no stop intent before completion');
    const done = await store.complete(record(3), 10);
    assert.equal(done.state, 'completed');
    assert.deepEqual(await store.stopIntent('job-1'), { jobId: 'job-1', savepointPath: record(3).path, checkpointId: 3, recordedAt: 10 });
    // A later stop-savepoint that fails must not erase the completed one's intent.
    await store.begin(record(4));
    await store.fail(record(4), 'aborted', 11);
    assert.equal((await store.stopIntent('job-1'))?.checkpointId, 3);
    assert.deepEqual((await store.list('job-1')).map((r) => [r.checkpointId, r.state, r.failure ?? null]), [[3, 'completed', null], [4, 'failed', 'aborted']]);
    await store.fail(done, 'its metadata could not be stored', 12);
    assert.equal(await store.stopIntent('job-1'), undefined);
  });

  it('savepoint store - writes of an ended term are fenced; reads of many records are paged', async () => {
    const clusterId = uniqueClusterId();
    const old = await leader(etcd.cluster, clusterId);
    const store = new EtcdSavepointStore({ root: old.ha.root, guard: old.guard });
    await Promise.all(Array.from({ length: 230 }, (_, i) => store.begin({ ...record(i + 1), jobId: `job-${i % 3}` })));
    assert.equal((await store.listAll()).length, 230);
    assert.deepEqual((await store.list('job-1')).map((r) => r.checkpointId).slice(0, 3), [2, 5, 8], 'in checkpoint order');
    await old.resign();
    await leader(etcd.cluster, clusterId);
    await assert.rejects(store.complete(record(2), 1), FencingError);
  });

  it('sink claims - one owner per directory, however it is spelled; concurrent claims cannot both win', async () => {
    const { ha, guard } = await leader(etcd.cluster);
    const claims = new EtcdSinkClaimStore({ root: ha.root, guard });
    const never = async () => false;
    await claims.claim(['/data/out'], 'a', never);
    await assert.rejects(claims.claim(['/data/./out/'], 'b', never), { code: 'SINK_DIR_OWNED', details: { dir: '/data/out', owner: 'a' } });
    // Two submissions racing for a free directory, each willing to take over any claim it sees.
    const outcomes = await Promise.allSettled(['c', 'd'].map((id) => claims.claim(['/data/free'], id, async (owner) => owner === 'nobody')));
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, JSON.stringify(outcomes));
    const owners = (await claims.list()).filter((c) => c.dir === '/data/free').map((c) => c.jobId);
    assert.equal(owners.length, 1);
  });

  it('sink claims - a takeover survives the old owner releasing late', async () => {
    const { ha, guard } = await leader(etcd.cluster);
    const claims = new EtcdSinkClaimStore({ root: ha.root, guard });
    await claims.claim(['/data/out', '/data/side'], 'stopped', async () => false);
    await claims.claim(['/data/out'], 'resumed', async (owner) => owner === 'stopped');
    await claims.release('stopped');
    assert.deepEqual((await claims.list()).map((c) => [c.dir, c.jobId]), [['/data/out', 'resumed']]);
  });
});
