import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { ActorSystem, type RuntimeError } from '../../lib/index.js';
import { createEtcdClient, EtcdLeaderElection, HaErrorCode, haRoot } from '../../lib/ha/index.js';
import { ActorPersistence, EtcdSnapshotStore, PersistenceErrorCode } from '../../lib/persistence/index.js';
import { counterMachine } from '../fixtures/machines.js';
import { useEtcd, uniqueClusterId } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';

describe('persistence (real etcd)', function () {
  this.timeout(30_000);
  const etcd = useEtcd(1);
  let client: Etcd3;
  let system: ActorSystem;

  before(async () => {
    client = createEtcdClient(etcd.cluster.clientOptions);
    system = await ActorSystem.start({ clusterId: 'persist', secret: 'persist-secret-0123456789', listen: false });
  });
  after(async () => {
    await system.terminate();
    client.close();
  });

  it('persistence - a supervision restart restores the snapshot saved in etcd', async () => {
    const store = new EtcdSnapshotStore({ root: client.namespace(haRoot(uniqueClusterId())) });
    const persistence = await ActorPersistence.restore(counterMachine, { store, key: 'counter', everyEvents: 1 });
    const counter = system.spawn('etcd-counter', persistence.logic, { supervision: { strategy: 'restart', maxRestarts: 3, withinMs: 10_000 } });
    counter.tell({ type: 'inc', by: 7 });
    assert.equal(await counter.ask({ type: 'get' }), 7);
    await persistence.save();
    counter.tell({ type: 'crash' });
    assert.equal(await counter.ask({ type: 'get' }), 7);
    assert.equal(((await store.load('counter')) as { context: { n: number } }).context.n, 7);
    system.stop(counter);
    persistence.close();
  });

  it('persistence - state above etcd value limit fails with SNAPSHOT_TOO_LARGE naming the file store', async () => {
    const store = new EtcdSnapshotStore({ root: client.namespace(haRoot(uniqueClusterId())) });
    const err = (await store.save('big', { blob: 'x'.repeat(2 * 1024 * 1024) }).then(
      () => assert.fail('saved 2 MiB in etcd'),
      (e: RuntimeError) => e,
    )) as RuntimeError;
    assert.equal(err.code, PersistenceErrorCode.SnapshotTooLarge);
    assert.match(err.message, /FileSnapshotStore/);
    assert.equal(err.details['limitBytes'], 1024 * 1024);
    assert.equal(await store.load('big'), undefined);
  });

  it('persistence - a fenced save is refused once its term is over', async () => {
    const group = uniqueClusterId();
    const root = client.namespace(`${haRoot(group)}singletons/x/`);
    const election = new EtcdLeaderElection({ root, leaseTtlSeconds: 2 });
    let token: string | null = null;
    election.campaign({ grantLeadership: (t) => (token = t), revokeLeadership: () => (token = null) }, 'me');
    await waitFor('leadership', () => token);
    const fence = { root, guard: election.guard()! };
    const store = new EtcdSnapshotStore({ root: client.namespace(haRoot(group)) });
    await store.save('s', { n: 1 }, fence);
    await election.resign();
    const err = (await store.save('s', { n: 2 }, fence).then(
      () => assert.fail('saved after the term ended'),
      (e: RuntimeError) => e,
    )) as RuntimeError;
    assert.equal(err.code, HaErrorCode.LeadershipLost);
    assert.deepEqual(await store.load('s'), { n: 1 });
    await election.close();
  });
});
