import assert from 'node:assert/strict';
import { useEtcd, uniqueClusterId } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';
import {
  EtcdHaServices,
  FencingError,
  fencedTxn,
  HaErrorCode,
  HaKeys,
  MAX_VALUE_BYTES,
  type EtcdCluster,
  type EtcdLeaderElection,
  type EtcdLeaderGuard,
} from '../../lib/ha/index.js';
import { RuntimeError } from '../../lib/errors.js';
import { packBlob } from '../../lib/ha/codec.js';
import { listKeysPaged, PAGE_BYTES, pageSizeFor, rangePages } from '../../lib/ha/etcd-pages.js';
import { RESULT_VALUE_BYTES } from '../../lib/ha/etcd-stores.js';
import { createLogger } from '../../lib/logging.js';

const opened: EtcdHaServices[] = [];

/** HA services that lead a fresh cluster id, with the guard of their term. */
async function leader(
  cluster: EtcdCluster,
  clusterId = uniqueClusterId(),
  extra: { requestTimeoutMs?: number; retainCheckpoints?: number } = {},
): Promise<{ ha: EtcdHaServices; election: EtcdLeaderElection; guard: EtcdLeaderGuard; clusterId: string }> {
  const log = createLogger({ level: process.env['HA_TEST_LOG'] ?? 'silent' });
  const ha = new EtcdHaServices({ ...cluster.clientOptions, clusterId, log, ...extra });
  opened.push(ha);
  const election = ha.leaderElection();
  let granted = false;
  election.campaign({ grantLeadership: () => (granted = true), revokeLeadership: () => (granted = false) }, 'addr');
  await waitFor('leadership', () => granted);
  return { ha, election, guard: election.guard()!, clusterId };
}

async function closeAll(): Promise<void> {
  await Promise.all(opened.splice(0).map((ha) => ha.close()));
}

describe('ha stores (real etcd, 1 member)', function () {
  this.timeout(30_000);
  const etcd = useEtcd(1);
  afterEach(closeAll);

  it('job graph store - roundtrip, list, remove', async () => {
    const { ha, guard } = await leader(etcd.cluster);
    const store = ha.jobGraphStore(guard);
    const graph = { name: 'wordcount', vertices: [{ id: 'src', parallelism: 2 }], code: new Uint8Array([1, 2, 3]) };
    await store.put('job/1', graph);
    await store.put('job-2', { name: 'other' });
    // Binary comes back as a Buffer (a Uint8Array).
    assert.deepEqual(await store.get('job/1'), { ...graph, code: Buffer.from([1, 2, 3]) });
    assert.deepEqual((await store.list()).sort(), ['job-2', 'job/1']);
    await store.remove('job/1');
    assert.equal(await store.get('job/1'), undefined);
    // A read-only view (standby) reads without a guard.
    assert.deepEqual(await ha.jobGraphStore(null).list(), ['job-2']);
  });

  it('job result store - roundtrip, has, list', async () => {
    const { ha, guard } = await leader(etcd.cluster);
    const store = ha.jobResultStore(guard);
    await store.put({ jobId: 'j1', state: 'finished', durationMs: 12 });
    await store.put({ jobId: 'j10', state: 'failed', error: { code: 'X', message: 'boom' } });
    assert.equal(await store.has('j1'), true);
    assert.equal(await store.has('j'), false);
    assert.deepEqual(await store.get('j1'), { jobId: 'j1', state: 'finished', durationMs: 12 });
    assert.deepEqual((await store.list()).map((r) => r.state).sort(), ['failed', 'finished']);
  });

  it('stores - writes without leadership or with an ended term are fenced; reads are not', async () => {
    const { ha, election, guard } = await leader(etcd.cluster);
    await assert.rejects(ha.jobGraphStore(null).put('j', {}), (err: unknown) => err instanceof FencingError);
    await election.resign();
    await assert.rejects(
      ha.jobResultStore(guard).put({ jobId: 'j', state: 'canceled' }),
      (err: unknown) => err instanceof RuntimeError && err.code === HaErrorCode.LeadershipLost,
    );
    assert.equal(await ha.jobResultStore(guard).has('j'), false);
  });

  it('stores - a value above the limit is refused with a clear error', async () => {
    const { ha, guard } = await leader(etcd.cluster);
    await assert.rejects(
      ha.jobGraphStore(guard).put('big', new Uint8Array(MAX_VALUE_BYTES + 1)),
      (err: unknown) => err instanceof RuntimeError && err.code === HaErrorCode.ValueTooLarge,
    );
  });

  it('checkpoint store - keeps the N latest and returns the subsumed ones', async () => {
    const { ha, guard } = await leader(etcd.cluster, undefined, { retainCheckpoints: 3 });
    const store = ha.checkpointStore(guard);
    const subsumed: number[][] = [];
    for (let id = 1; id <= 5; id++) {
      subsumed.push((await store.add('job', { checkpointId: id, handles: [`file-${id}`] })).map((c) => c.checkpointId));
    }
    assert.deepEqual(subsumed, [[], [], [], [1], [2]]);
    assert.deepEqual((await store.list('job')).map((c) => c.checkpointId), [3, 4, 5]);
    assert.deepEqual(await store.latest('job'), { checkpointId: 5, handles: ['file-5'] });
    assert.equal(await store.latest('other-job'), undefined);
    // Ids beyond 9 sort numerically (zero-padded keys).
    await store.add('job', { checkpointId: 10 });
    assert.equal((await store.latest('job'))?.checkpointId, 10);
    assert.deepEqual((await store.removeJob('job')).map((c) => c.checkpointId), [4, 5, 10]);
    assert.deepEqual(await store.list('job'), []);
  });

  it('job result store - lists more results than one gRPC message holds, in pages', async () => {
    const { ha, guard } = await leader(etcd.cluster);
    const store = ha.jobResultStore(guard);
    // 40 × 120 KB = 4.8 MB: one range answer would exceed gRPC's 4 MiB message limit.
    const filler = 'x'.repeat(120 * 1024);
    for (let i = 0; i < 40; i++) await store.put({ jobId: `job-${String(i).padStart(2, '0')}`, state: 'finished', filler });
    const listed = await store.list();
    assert.deepEqual(listed.map((r) => r.jobId), Array.from({ length: 40 }, (_, i) => `job-${String(i).padStart(2, '0')}`));
    assert.ok(listed.every((r) => r['filler'] === filler));
    // No answer carried more than one page's worth.
    const pageSize = pageSizeFor(RESULT_VALUE_BYTES);
    const pages: number[] = [];
    for await (const page of rangePages(ha.root, HaKeys.jobResultPrefix, { operation: 'test pages', pageSize })) pages.push(page.length);
    assert.deepEqual(pages, [10, 10, 10, 10]);
    assert.ok(pageSize * RESULT_VALUE_BYTES <= PAGE_BYTES);
  });

  it('job result store - refuses a result above its limit; reads back results written before the limit existed', async () => {
    const { ha, guard } = await leader(etcd.cluster);
    const store = ha.jobResultStore(guard);
    await assert.rejects(
      store.put({ jobId: 'huge', state: 'finished', collected: 'x'.repeat(RESULT_VALUE_BYTES) }),
      (err: unknown) => err instanceof RuntimeError && err.code === HaErrorCode.ValueTooLarge,
    );
    // Eight results of ~595 KB each (4.76 MB), as older versions stored them: the pages shrink until they fit.
    const legacy = 'y'.repeat(595 * 1024);
    for (let i = 0; i < 8; i++) {
      await fencedTxn(ha.root, guard, 'legacy put', [ha.root.put(HaKeys.jobResult(`old-${i}`)).value(packBlob({ jobId: `old-${i}`, state: 'finished', legacy }))]);
    }
    const listed = await store.list();
    assert.equal(listed.length, 8);
    assert.ok(listed.every((r) => r['legacy'] === legacy));
  });

  it('job graph store - lists keys in pages; an execution record lives and goes with its graph', async () => {
    const { ha, guard } = await leader(etcd.cluster);
    const store = ha.jobGraphStore(guard);
    for (let i = 0; i < 7; i++) await store.put(`g${i}`, { i });
    assert.deepEqual(await listKeysPaged(ha.root, HaKeys.jobGraphPrefix, 'test list', 3), Array.from({ length: 7 }, (_, i) => `${HaKeys.jobGraphPrefix}g${i}`));
    assert.equal((await store.list()).length, 7);
    assert.equal(await store.getExecution('g1'), undefined);
    await store.putExecution('g1', { attempt: 3, restarts: 2 });
    assert.deepEqual(await ha.jobGraphStore(null).getExecution('g1'), { attempt: 3, restarts: 2 });
    await assert.rejects(ha.jobGraphStore(null).putExecution('g1', { attempt: 4, restarts: 3 }), (err: unknown) => err instanceof FencingError);
    await store.remove('g1');
    assert.equal(await store.getExecution('g1'), undefined);
    assert.equal((await store.list()).length, 6, 'execution records are not listed as graphs');
  });

  it('checkpoint id counter - unique and increasing under concurrency', async () => {
    const first = await leader(etcd.cluster);
    // Same term, three connections racing on the same counter.
    const others = [1, 2].map(() => {
      const ha = new EtcdHaServices({ ...etcd.cluster.clientOptions, clusterId: first.clusterId });
      opened.push(ha);
      return ha;
    });
    const counters = [first.ha, ...others].map((ha) => ha.checkpointIdCounter(first.guard));
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => counters[i % 3]!.getAndIncrement('job')));
    assert.deepEqual([...ids].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.equal(await counters[0]!.get('job'), 31);
  });
});

describe('ha stores (real etcd, 3 members)', function () {
  this.timeout(60_000);
  const etcd = useEtcd(3);
  afterEach(closeAll);

  it('cluster - survives one member down; without quorum writes fail cleanly, then recover', async () => {
    const { ha, election, guard } = await leader(etcd.cluster, undefined, { requestTimeoutMs: 1000 });
    const store = ha.jobGraphStore(guard);
    const [m0, m1] = etcd.cluster.members;
    m0!.kill('SIGKILL');
    // If m0 was etcd's raft leader, etcd elects another within 1-2 s; our contender may lose
    // its term meanwhile (its lease cannot be renewed without an etcd leader) and campaign
    // again, so write with whatever term is current.
    await waitFor('write with one member down', async () => {
      await ha.jobGraphStore(election.guard()).put('j1', { n: 1 });
      return true;
    });
    assert.deepEqual(await store.get('j1'), { n: 1 });

    const termBeforeQuorumLoss = election.guard()?.sessionId ?? guard.sessionId;
    m1!.kill('SIGKILL');
    const started = Date.now();
    await assert.rejects(ha.jobGraphStore(election.guard()).put('j2', { n: 2 }), (err: unknown) => {
      // Without quorum the leader cannot renew its lease either: either error is a clean refusal.
      return err instanceof RuntimeError && (err.code === HaErrorCode.Unavailable || err.code === HaErrorCode.LeadershipLost);
    });
    assert.ok(Date.now() - started < 5000, `the failed write took ${Date.now() - started} ms`);

    await Promise.all([m0!.restart(), m1!.restart()]);
    await etcd.cluster.waitHealthy(20_000);
    // The contender's term usually ends with the quorum (its lease cannot be renewed) and it
    // campaigns again; it writes under whatever term is current once etcd is back.
    await waitFor('a write after recovery', async () => {
      await ha.jobGraphStore(election.guard()).put('j3', { n: 3 });
      return true;
    }, { timeoutMs: 20_000 });
    const now = election.guard()!;
    if (now.sessionId !== termBeforeQuorumLoss) {
      await assert.rejects(store.put('j4', {}), (err: unknown) => err instanceof FencingError);
    }
    assert.deepEqual(await ha.jobGraphStore(null).get('j1'), { n: 1 });
  });
});
