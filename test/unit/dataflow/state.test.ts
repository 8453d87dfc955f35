import assert from 'node:assert/strict';
import { encode, decode } from 'msgpackr';
import { keyGroupFor, keyGroupRangeFor } from '../../../lib/dataflow/keygroups.js';
import type { Key } from '../../../lib/dataflow/keyhash.js';
import { HeapKeyedStateBackend, type KeyGroupSnapshot } from '../../../lib/dataflow/state.js';

const MAX_P = 128;

function backendFor(parallelism: number, index: number): HeapKeyedStateBackend {
  return new HeapKeyedStateBackend({ maxParallelism: MAX_P, keyGroupRange: keyGroupRangeFor(MAX_P, parallelism, index) });
}

/** Keys routed to their owner among `backends` (as a hash partitioner would). */
function ownerOf(backends: HeapKeyedStateBackend[], key: Key): HeapKeyedStateBackend {
  const kg = keyGroupFor(key, MAX_P);
  const owner = backends.find((b) => kg >= b.keyGroupRange.start && kg <= b.keyGroupRange.end);
  assert.ok(owner);
  return owner;
}

describe('dataflow - keyed state', () => {
  it('scopes value state to the current key', () => {
    const backend = backendFor(1, 0);
    const count = backend.getValueState<number>('count');
    backend.setCurrentKey('a');
    assert.equal(count.value(), undefined);
    count.update(1);
    backend.setCurrentKey('b');
    assert.equal(count.value(), undefined);
    count.update(10);
    backend.setCurrentKey('a');
    assert.equal(count.value(), 1);
    count.update((count.value() ?? 0) + 1);
    assert.equal(count.value(), 2);
    count.clear();
    assert.equal(count.value(), undefined);
    backend.setCurrentKey('b');
    assert.equal(count.value(), 10);
    assert.equal(backend.numKeys('count'), 1);
    assert.equal(backend.getValueState<number>('count'), count, 'same handle for the same name');
  });

  it('treats structurally equal keys as the same key', () => {
    const backend = backendFor(1, 0);
    const s = backend.getValueState<string>('s');
    backend.setCurrentKey(['x', 1]);
    s.update('tuple');
    backend.setCurrentKey(['x', 1]);
    assert.equal(s.value(), 'tuple');
    backend.setCurrentKey('x1');
    assert.equal(s.value(), undefined);
  });

  it('scopes map state to the current key', () => {
    const backend = backendFor(1, 0);
    const m = backend.getMapState<string, number>('m');
    backend.setCurrentKey(1);
    assert.equal(m.isEmpty(), true);
    m.put('x', 1);
    m.put('y', 2);
    backend.setCurrentKey(2);
    m.put('x', 100);
    backend.setCurrentKey(1);
    assert.equal(m.get('x'), 1);
    assert.equal(m.contains('y'), true);
    assert.deepEqual([...m.entries()], [['x', 1], ['y', 2]]);
    assert.deepEqual([...m.keys()], ['x', 'y']);
    assert.deepEqual([...m.values()], [1, 2]);
    m.remove('x');
    assert.equal(m.get('x'), undefined);
    m.clear();
    assert.equal(m.isEmpty(), true);
    backend.setCurrentKey(2);
    assert.deepEqual([...m.entries()], [['x', 100]]);
  });

  it('rejects state access without a key, kind conflicts and keys of other subtasks', () => {
    const backend = backendFor(2, 0);
    const v = backend.getValueState<number>('v');
    assert.throws(() => v.value(), { code: 'NO_CURRENT_KEY' });
    assert.throws(() => backend.getMapState('v'), { code: 'STATE_CONFLICT' });
    let foreign = 0;
    while (keyGroupFor(foreign, MAX_P) < 64) foreign++;
    assert.throws(() => backend.setCurrentKey(foreign), { code: 'KEY_GROUP_OUT_OF_RANGE' });
    assert.throws(() => backend.setCurrentKey({} as unknown as Key), { code: 'INVALID_KEY' });
  });

  it('snapshots per key group as plain data and restores it', () => {
    const backend = backendFor(1, 0);
    const v = backend.getValueState<{ n: number }>('v');
    const m = backend.getMapState<string, string[]>('m');
    for (let i = 0; i < 50; i++) {
      backend.setCurrentKey(`k${i}`);
      v.update({ n: i });
      if (i % 2 === 0) m.put(`f${i}`, ['x', String(i)]);
    }
    const snapshot = backend.snapshot();
    // Survives MessagePack, the wire and checkpoint format.
    const copy = decode(encode(snapshot)) as KeyGroupSnapshot[];
    assert.deepEqual(copy, JSON.parse(JSON.stringify(snapshot)));
    const groups = snapshot.map((s) => s.keyGroup);
    assert.deepEqual(groups, [...groups].sort((a, b) => a - b));
    assert.equal(new Set(groups).size, groups.length, 'one entry per key group');
    for (const s of snapshot) {
      for (const [key] of s.states['v']?.entries ?? []) assert.equal(keyGroupFor(key, MAX_P), s.keyGroup);
    }

    const restored = backendFor(1, 0);
    restored.restore(copy);
    const rv = restored.getValueState<{ n: number }>('v');
    const rm = restored.getMapState<string, string[]>('m');
    for (let i = 0; i < 50; i++) {
      restored.setCurrentKey(`k${i}`);
      assert.deepEqual(rv.value(), { n: i });
      assert.deepEqual([...rm.entries()], i % 2 === 0 ? [[`f${i}`, ['x', String(i)]]] : []);
    }
    assert.deepEqual(restored.snapshot(), copy);
  });

  it('snapshots only the requested range', () => {
    const backend = backendFor(1, 0);
    const v = backend.getValueState<number>('v');
    for (let i = 0; i < 100; i++) {
      backend.setCurrentKey(i);
      v.update(i);
    }
    const range = { start: 10, end: 20 };
    const part = backend.snapshot(range);
    assert.ok(part.length > 0);
    assert.ok(part.every((s) => s.keyGroup >= 10 && s.keyGroup <= 20));
    const keys = part.flatMap((s) => s.states['v']?.entries.map(([k]) => k) ?? []);
    assert.deepEqual(
      keys.sort((a, b) => (a as number) - (b as number)),
      Array.from({ length: 100 }, (_, i) => i).filter((i) => keyGroupFor(i, MAX_P) >= 10 && keyGroupFor(i, MAX_P) <= 20),
    );
  });

  it('rescales from 2 to 3 subtasks keeping every key state', () => {
    const keys: Key[] = Array.from({ length: 500 }, (_, i) => (i % 3 === 0 ? `user-${i}` : i % 3 === 1 ? i : ['pair', i]));
    const old = [backendFor(2, 0), backendFor(2, 1)];
    for (const key of keys) {
      const b = ownerOf(old, key);
      b.setCurrentKey(key);
      b.getValueState<string>('v').update(`value of ${JSON.stringify(key)}`);
      b.getMapState<string, number>('m').put('seen', 1);
    }
    // A checkpoint: every old subtask's snapshot, through the wire format.
    const checkpoint = old.flatMap((b) => decode(encode(b.snapshot())) as KeyGroupSnapshot[]);

    const rescaled = [backendFor(3, 0), backendFor(3, 1), backendFor(3, 2)];
    for (const b of rescaled) b.restore(checkpoint);
    for (const key of keys) {
      const b = ownerOf(rescaled, key);
      b.setCurrentKey(key);
      assert.equal(b.getValueState<string>('v').value(), `value of ${JSON.stringify(key)}`);
      assert.equal(b.getMapState<string, number>('m').get('seen'), 1);
    }
    // Each key lives in exactly one new backend: nothing duplicated, nothing lost.
    assert.equal(
      rescaled.reduce((n, b) => n + b.numKeys('v'), 0),
      keys.length,
    );
    for (const b of rescaled) {
      for (const s of b.snapshot()) assert.ok(s.keyGroup >= b.keyGroupRange.start && s.keyGroup <= b.keyGroupRange.end);
    }
  });
});
