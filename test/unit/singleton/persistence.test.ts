import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ActorSystem } from '../../../lib/index.js';
import { ActorPersistence, FileSnapshotStore } from '../../../lib/persistence/index.js';
import { counterMachine } from '../../fixtures/machines.js';
import { waitFor } from '../../support/wait.js';

describe('persistence - file store and restores', () => {
  let dir: string;
  let system: ActorSystem;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'snapshots-'));
    system = await ActorSystem.start({ clusterId: 'unit', secret: 'unit-secret-0123456789', listen: false });
  });
  afterEach(async () => {
    await system.terminate();
    await rm(dir, { recursive: true, force: true, maxRetries: 5 }); // a snapshot write may still be settling
  });

  it('persistence - a supervision restart restores the last saved snapshot', async () => {
    const store = new FileSnapshotStore({ dir });
    const persistence = await ActorPersistence.restore(counterMachine, { store, key: 'counter', everyEvents: 1 });
    assert.equal(persistence.restored, false);
    const counter = system.spawn('counter', persistence.logic, { supervision: { strategy: 'restart', maxRestarts: 3, withinMs: 10_000 } });
    for (let i = 0; i < 3; i++) counter.tell({ type: 'inc', by: 2 });
    assert.equal(await counter.ask({ type: 'get' }), 6);
    await persistence.save();
    counter.tell({ type: 'crash' });
    assert.equal(await counter.ask({ type: 'get' }), 6, 'a fresh machine would count from 0');
    persistence.close();
  });

  it('persistence - a new actor (another process) restores from the store; writes leave no temp files', async () => {
    const store = new FileSnapshotStore({ dir });
    const first = await ActorPersistence.restore(counterMachine, { store, key: 'a/b c' });
    const counter = system.spawn('first', first.logic);
    counter.tell({ type: 'inc', by: 5 });
    await counter.ask({ type: 'get' });
    await first.save();
    system.stop(counter);
    first.close();
    const second = await ActorPersistence.restore(counterMachine, { store, key: 'a/b c' });
    assert.equal(second.restored, true);
    const again = system.spawn('second', second.logic);
    assert.equal(await again.ask({ type: 'get' }), 5);
    assert.deepEqual(await readdir(dir), [`${encodeURIComponent('a/b c')}.snapshot`]);
  });

  it('persistence - afterSave runs once the state with the current event is stored; saves are coalesced', async () => {
    let saves = 0;
    const inner = new FileSnapshotStore({ dir });
    const store = { load: inner.load.bind(inner), remove: inner.remove.bind(inner), save: (k: string, s: unknown) => (saves++, inner.save(k, s)) };
    const persistence = await ActorPersistence.restore(counterMachine, { store, key: 'c' });
    const counter = system.spawn('c', persistence.logic);
    for (let i = 0; i < 100; i++) counter.tell({ type: 'inc' });
    await counter.ask({ type: 'get' });
    let stored = false;
    persistence.afterSave(() => (stored = true));
    await waitFor('afterSave', () => stored);
    assert.equal(((await store.load('c')) as { context: { n: number } }).context.n, 100);
    assert.ok(saves <= 2, `${saves} saves for one afterSave`);
  });
});
