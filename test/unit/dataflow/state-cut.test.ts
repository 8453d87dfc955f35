import assert from 'node:assert/strict';
import { keyGroupFor, keyGroupRangeFor } from '../../../lib/dataflow/keygroups.js';
import { encodeKey, type Key } from '../../../lib/dataflow/keyhash.js';
import { HeapKeyedStateBackend, type KeyGroupSnapshot } from '../../../lib/dataflow/state.js';

const MAX_P = 16;

function backendWith(keys: number): HeapKeyedStateBackend {
  const backend = new HeapKeyedStateBackend({ maxParallelism: MAX_P, keyGroupRange: keyGroupRangeFor(MAX_P, 1, 0) });
  const count = backend.getValueState<number>('count');
  const tags = backend.getMapState<string, string>('tags');
  for (let i = 0; i < keys; i++) {
    backend.setCurrentKey(`k${i}`);
    count.update(i);
    tags.put('a', `a${i}`);
  }
  return backend;
}

/**
 * Entries of each state in key order: a cut lists an entry removed since it after the others,
 * and the order of a snapshot's entries carries no meaning.
 */
function inKeyOrder(groups: KeyGroupSnapshot[]): KeyGroupSnapshot[] {
  const order = (a: readonly [unknown, unknown], b: readonly [unknown, unknown]) => encodeKey(a[0] as Key).localeCompare(encodeKey(b[0] as Key));
  return groups.map(({ keyGroup, states }) => ({
    keyGroup,
    states: Object.fromEntries(Object.entries(states).map(([name, state]) => [name, { ...state, entries: [...state.entries].sort(order) }])) as KeyGroupSnapshot['states'],
  }));
}

/** Reads the whole cut, as the checkpointer's slices do. */
function readCut(cut: ReturnType<HeapKeyedStateBackend['freeze']>): KeyGroupSnapshot[] {
  return inKeyOrder(cut.keyGroups.map((kg) => cut.keyGroupSnapshot(kg)!));
}

/** A deep copy: what an encoded snapshot would hold. */
const copy = (v: KeyGroupSnapshot[]): KeyGroupSnapshot[] => inKeyOrder(structuredClone(v));

describe('dataflow - copy-on-write cuts of keyed state', () => {
  it('a cut holds exactly the state at its point: later updates, clears, new keys and map writes never show in it', () => {
    const backend = backendWith(200);
    const expected = copy(backend.snapshot());
    const cut = backend.freeze();
    const count = backend.getValueState<number>('count');
    const tags = backend.getMapState<string, string>('tags');
    for (let i = 0; i < 200; i++) {
      backend.setCurrentKey(`k${i}`);
      if (i % 3 === 0) count.update(-1);
      else if (i % 3 === 1) count.clear();
      tags.put('b', 'new');
      if (i % 2 === 0) tags.remove('a');
      if (i % 5 === 0) tags.clear();
    }
    for (let i = 200; i < 300; i++) {
      backend.setCurrentKey(`k${i}`);
      count.update(i);
    }
    assert.deepEqual(readCut(cut), expected);
    // The live state has every write.
    backend.setCurrentKey('k3');
    assert.equal(count.value(), -1);
    assert.equal(tags.get('b'), 'new');
    backend.setCurrentKey('k4');
    assert.equal(count.value(), undefined);
    assert.equal(tags.get('a'), undefined);
    backend.setCurrentKey('k250');
    assert.equal(count.value(), 250);
    cut.release();
  });

  it('a run of writes to one key (no key change between them) keeps each cut at its point, and after a clear or restore reads afresh', () => {
    const backend = new HeapKeyedStateBackend({ maxParallelism: MAX_P, keyGroupRange: keyGroupRangeFor(MAX_P, 1, 0) });
    const count = backend.getValueState<number>('count');
    backend.setCurrentKey('hot');
    assert.equal(count.value(), undefined);
    count.update(1);
    assert.equal(count.value(), 1);
    count.update(2);
    const first = backend.freeze();
    count.update((count.value() as number) + 1);
    count.update((count.value() as number) + 1);
    const second = backend.freeze();
    count.update((count.value() as number) + 1);
    const valueIn = (cut: ReturnType<HeapKeyedStateBackend['freeze']>) =>
      cut.keyGroups.flatMap((g) => (cut.keyGroupSnapshot(g) as KeyGroupSnapshot).states['count']?.entries ?? []);
    assert.deepEqual(valueIn(first), [['hot', 2]]);
    assert.deepEqual(valueIn(second), [['hot', 4]]);
    assert.equal(count.value(), 5);
    first.release();
    second.release();
    count.clear();
    assert.equal(count.value(), undefined);
    count.update(7);
    assert.equal(count.value(), 7);
    const saved = backend.snapshot();
    count.update(8);
    backend.restore(saved);
    assert.equal(count.value(), 7, 'a restore replaces the entry the handle had found');
    assert.deepEqual(backend.snapshot(), saved);
  });

  it('value state stays exact under random reads, writes, clears, cuts and restores over few keys and two states', () => {
    let seed = 7;
    const random = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const backend = new HeapKeyedStateBackend({ maxParallelism: MAX_P, keyGroupRange: keyGroupRangeFor(MAX_P, 1, 0) });
    const states = [backend.getValueState<number>('a'), backend.getValueState<number>('b')] as const;
    const keys: Key[] = ['x', 'y', 'z', 1, 2, ['t', 1]];
    const model = [new Map<string, number>(), new Map<string, number>()];
    let key: Key = 'x';
    backend.setCurrentKey(key);
    let saved: { snapshot: KeyGroupSnapshot[]; model: Map<string, number>[] } | undefined;
    for (let step = 0; step < 5000; step++) {
      const op = random(20);
      const s = random(2);
      const state = states[s] as (typeof states)[0];
      const m = model[s] as Map<string, number>;
      const k = encodeKey(key);
      if (op < 5) backend.setCurrentKey((key = keys[random(keys.length)] as Key));
      else if (op < 12) {
        const value = step;
        state.update(value);
        m.set(k, value);
      } else if (op < 14) {
        state.clear();
        m.delete(k);
      } else if (op === 14) backend.freeze().release();
      else if (op === 15) saved = { snapshot: backend.snapshot(), model: model.map((x) => new Map(x)) };
      else if (op === 16 && saved !== undefined) {
        backend.restore(saved.snapshot);
        // A restore replaces, per key group, the states its snapshot has; the rest stay as they are.
        for (const [i, name] of ['a', 'b'].entries()) {
          for (const one of keys) {
            const group = saved.snapshot.find((g) => g.keyGroup === keyGroupFor(one, MAX_P));
            if (group?.states[name] === undefined) continue;
            const e = encodeKey(one);
            const was = saved.model[i]?.get(e);
            if (was === undefined) model[i]?.delete(e);
            else model[i]?.set(e, was);
          }
        }
      }
      assert.equal(state.value(), (model[s] as Map<string, number>).get(encodeKey(key)), `step ${step}`);
    }
  });

  it('two cuts in flight each keep their own point; a release lets writes go in place again', () => {
    const backend = backendWith(100);
    const count = backend.getValueState<number>('count');
    const first = copy(backend.snapshot());
    const cut1 = backend.freeze();
    backend.setCurrentKey('k1');
    count.update(1000);
    const second = copy(backend.snapshot());
    const cut2 = backend.freeze();
    backend.setCurrentKey('k1');
    count.update(2000);
    backend.setCurrentKey('k2');
    count.update(2000);
    assert.deepEqual(readCut(cut1), first);
    cut1.release();
    backend.setCurrentKey('k1');
    count.update(3000);
    assert.deepEqual(readCut(cut2), second);
    cut2.release();
    cut2.release(); // idempotent
    assert.equal(backend.heldByCuts, 0, 'no entry map is held once every cut is released');
  });

  it('two cuts in flight see removals, re-adds and map writes each at their own point; only written entries are copied', () => {
    const backend = backendWith(100);
    const count = backend.getValueState<number>('count');
    const tags = backend.getMapState<string, string>('tags');
    const first = copy(backend.snapshot());
    const cut1 = backend.freeze();
    backend.setCurrentKey('k1');
    count.clear(); // removed after cut 1
    tags.put('b', 'one');
    backend.setCurrentKey('k2');
    tags.remove('a'); // its map emptied: the key leaves the map state
    backend.setCurrentKey('new');
    count.update(1);
    const second = copy(backend.snapshot());
    const cut2 = backend.freeze();
    backend.setCurrentKey('k1');
    count.update(11); // re-added after cut 2
    tags.put('b', 'two');
    backend.setCurrentKey('new');
    count.clear();
    backend.setCurrentKey('k3');
    tags.clear();
    assert.deepEqual(readCut(cut2), second);
    assert.deepEqual(readCut(cut1), first);
    cut1.release();
    assert.deepEqual(readCut(cut2), second, 'a release leaves the other cut as it was');
    backend.setCurrentKey('k1');
    tags.put('b', 'three');
    count.update(12);
    assert.deepEqual(readCut(cut2), second);
    cut2.release();
    backend.setCurrentKey('k1');
    assert.equal(count.value(), 12);
    assert.equal(tags.get('b'), 'three');
    backend.setCurrentKey('k3');
    assert.equal(tags.isEmpty(), true);
  });

  it('releases what a cut holds: nothing is held after release, and a released cut is not copied for', () => {
    const backend = backendWith(1000);
    const cut = backend.freeze();
    assert.ok(backend.heldByCuts > 0);
    cut.release();
    assert.equal(backend.heldByCuts, 0);
    // snapshot() is a cut read at once and released.
    backend.snapshot();
    assert.equal(backend.heldByCuts, 0);
  });

  it('tracks which key groups changed since a cut (the base of an incremental checkpoint)', () => {
    const backend = backendWith(100);
    const cut = backend.freeze();
    cut.release();
    const count = backend.getValueState<number>('count');
    backend.setCurrentKey('k7');
    count.update(7);
    const changed = keyGroupFor('k7', MAX_P);
    for (let kg = 0; kg < MAX_P; kg++) assert.equal(backend.unchangedSince(cut.generation, kg), kg !== changed, `key group ${kg}`);
    // A removal is a change too.
    const later = backend.freeze();
    later.release();
    backend.setCurrentKey('k8');
    count.clear();
    assert.equal(backend.unchangedSince(later.generation, keyGroupFor('k8', MAX_P)), false);
    // Restored key groups are unchanged since generation 0 until written.
    const restored = new HeapKeyedStateBackend({ maxParallelism: MAX_P, keyGroupRange: keyGroupRangeFor(MAX_P, 1, 0) });
    restored.restore(backend.snapshot());
    for (let kg = 0; kg < MAX_P; kg++) assert.equal(restored.unchangedSince(0, kg), true);
  });
});
