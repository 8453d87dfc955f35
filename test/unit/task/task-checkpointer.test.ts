import assert from 'node:assert/strict';
import path from 'node:path';
import { keyGroupRangeFor } from '../../../lib/dataflow/keygroups.js';
import { HeapKeyedStateBackend } from '../../../lib/dataflow/state.js';
import type { StateHandle, TaskDeploymentDescriptor } from '../../../lib/task/descriptor.js';
import { loadRestoredState, readSelfContained, readSnapshot } from '../../../lib/task/snapshot-store.js';
import { MAX_CHAIN } from '../../../lib/task/incremental.js';
import { TaskCheckpointer } from '../../../lib/task/task-checkpointer.js';
import type { FromWorker } from '../../../lib/task/worker-protocol.js';
import { TempDirs } from '../../support/temp-dirs.js';
import { waitFor } from '../../support/wait.js';

const dirs = new TempDirs();
const MAX_P = 128;
const OP = 'op-1';

const tdd = { executionId: 'job/1/v/0', vertexId: 'v', subtaskIndex: 0, parallelism: 1 } as TaskDeploymentDescriptor;

/** A checkpointer over one keyed backend, as a StreamTask wires it (no sinks, no outputs). */
function checkpointerOf(backend: HeapKeyedStateBackend, forTdd = tdd): { checkpointer: TaskCheckpointer; posted: FromWorker[] } {
  const posted: FromWorker[] = [];
  const checkpointer = new TaskCheckpointer(forTdd, {
    chain: { keyedBackends: () => new Map([[OP, backend]]), sourcePositions: () => undefined, operatorStateSnapshot: () => undefined },
    sinks: { snapshot: () => ({}) },
    partitions: [],
    post: (msg) => posted.push(msg),
  });
  return { checkpointer, posted };
}

function fill(backend: HeapKeyedStateBackend, keys: number, value: (i: number) => string): void {
  const blob = backend.getValueState<string>('blob');
  for (let i = 0; i < keys; i++) {
    backend.setCurrentKey(i);
    blob.update(value(i));
  }
}

async function ackOf(posted: FromWorker[], checkpointId: number): Promise<StateHandle> {
  return waitFor(`the ack of checkpoint ${checkpointId}`, () => {
    const declined = posted.find((m) => m.t === 'cp.declined' && m.checkpointId === checkpointId);
    if (declined) throw new Error(`declined: ${JSON.stringify(declined)}`);
    const ack = posted.find((m) => m.t === 'cp.ack' && m.checkpointId === checkpointId);
    return ack?.t === 'cp.ack' ? ack.handle : undefined;
  }, { timeoutMs: 20_000, intervalMs: 5 });
}

const restoreTdd = (checkpointId: number, handle: StateHandle): TaskDeploymentDescriptor =>
  ({ ...tdd, restore: { checkpointId, handles: [handle] } }) as TaskDeploymentDescriptor;

describe('task - snapshots without a pause, incremental checkpoints', () => {
  afterEach(() => dirs.removeAll());

  it('the task goes on while a large snapshot is encoded; writes after the barrier never reach the snapshot', async function () {
    this.timeout(60_000);
    const backend = new HeapKeyedStateBackend({ maxParallelism: MAX_P, keyGroupRange: keyGroupRangeFor(MAX_P, 1, 0) });
    fill(backend, 50_000, (i) => `before-${i}-${'x'.repeat(64)}`);
    const { checkpointer, posted } = checkpointerOf(backend);
    const dir = path.join(dirs.make('cut'), 'chk-1');
    checkpointer.checkpoint({ checkpointId: 1, savepoint: false, dir });
    assert.equal(checkpointer.inFlight, 1, 'the large snapshot is still being encoded and written');
    assert.equal(posted.length, 0);
    // Records processed meanwhile: every key is overwritten, new keys arrive.
    fill(backend, 60_000, (i) => `after-${i}`);
    const handle = await ackOf(posted, 1);
    assert.equal(backend.heldByCuts, 0, 'the cut is released once encoded');
    const restored = await loadRestoredState(restoreTdd(1, handle));
    const again = new HeapKeyedStateBackend({ maxParallelism: MAX_P, keyGroupRange: keyGroupRangeFor(MAX_P, 1, 0) });
    again.restore(restored!.keyedState[OP]!);
    assert.equal(again.numKeys('blob'), 50_000);
    const blob = again.getValueState<string>('blob');
    for (const i of [0, 1, 777, 49_999]) {
      again.setCurrentKey(i);
      assert.equal(blob.value(), `before-${i}-${'x'.repeat(64)}`);
    }
    assert.ok(checkpointer.lastTimings!.syncMs < 1000, `sync phase ${checkpointer.lastTimings!.syncMs} ms`);
  });

  it('an incremental checkpoint writes only the changed key groups and restores, through its references, the same state', async () => {
    const backend = new HeapKeyedStateBackend({ maxParallelism: MAX_P, keyGroupRange: keyGroupRangeFor(MAX_P, 1, 0) });
    fill(backend, 20_000, (i) => `v1-${i}-${'y'.repeat(100)}`);
    const { checkpointer, posted } = checkpointerOf(backend);
    const root = dirs.make('incremental');
    checkpointer.checkpoint({ checkpointId: 1, savepoint: false, dir: path.join(root, 'chk-1') });
    const first = await ackOf(posted, 1);
    assert.equal(first.shared, undefined, 'no base: a full snapshot');
    // Two keys change: at most two key groups are written again.
    const blob = backend.getValueState<string>('blob');
    backend.setCurrentKey(5);
    blob.update('v2-5');
    backend.setCurrentKey(6);
    blob.clear();
    checkpointer.completed(1);
    checkpointer.checkpoint({ checkpointId: 2, savepoint: false, dir: path.join(root, 'chk-2') });
    const second = await ackOf(posted, 2);
    assert.deepEqual(second.shared, [first.path]);
    assert.ok(second.bytes < first.bytes / 20, `second ${second.bytes} B vs first ${first.bytes} B`);
    assert.ok(checkpointer.lastTimings!.written <= 2 && checkpointer.lastTimings!.referenced >= 120, JSON.stringify(checkpointer.lastTimings));
    // A third based on the second refers straight to the file that holds each group (one level).
    backend.setCurrentKey(7);
    blob.update('v3-7');
    checkpointer.completed(2);
    checkpointer.checkpoint({ checkpointId: 3, savepoint: false, dir: path.join(root, 'chk-3') });
    const third = await ackOf(posted, 3);
    assert.ok(third.shared!.includes(first.path) && third.shared!.every((p) => p === first.path || p === second.path), JSON.stringify(third.shared));
    // Every chain starts at the full record in the first checkpoint's file; key 5's group has a delta in the second.
    const chains = (await readSnapshot(third.path)).references![OP]!;
    assert.ok(chains.every(([, chain]) => chain[0] === first.path && chain.length <= 2), JSON.stringify(chains.slice(0, 3)));
    assert.ok(chains.some(([, chain]) => chain.length === 2 && chain[1] === second.path));
    const restored = await loadRestoredState(restoreTdd(3, third));
    const again = new HeapKeyedStateBackend({ maxParallelism: MAX_P, keyGroupRange: keyGroupRangeFor(MAX_P, 1, 0) });
    again.restore(restored!.keyedState[OP]!);
    assert.deepEqual(again.snapshot(), backend.snapshot());
    // A savepoint is full and refers to nothing; a later checkpoint never refers to a savepoint.
    checkpointer.completed(3);
    checkpointer.checkpoint({ checkpointId: 4, savepoint: true, dir: path.join(root, 'sp-4') });
    const savepoint = await ackOf(posted, 4);
    assert.equal(savepoint.shared, undefined);
    assert.equal((await readSnapshot(savepoint.path)).references, undefined);
    checkpointer.completed(4);
    checkpointer.checkpoint({ checkpointId: 5, savepoint: false, dir: path.join(root, 'chk-5') });
    const fifth = await ackOf(posted, 5);
    assert.ok(fifth.shared !== undefined && !fifth.shared.includes(savepoint.path), JSON.stringify(fifth.shared));
  });

  it('an aborted checkpoint that referred to the base makes the next one full (the JobMaster may have refused the base)', async () => {
    const backend = new HeapKeyedStateBackend({ maxParallelism: MAX_P, keyGroupRange: keyGroupRangeFor(MAX_P, 1, 0) });
    fill(backend, 1000, (i) => `v${i}`);
    const { checkpointer, posted } = checkpointerOf(backend);
    const root = dirs.make('aborted');
    checkpointer.checkpoint({ checkpointId: 1, savepoint: false, dir: path.join(root, 'chk-1') });
    const first = await ackOf(posted, 1);
    checkpointer.completed(1);
    checkpointer.checkpoint({ checkpointId: 2, savepoint: false, dir: path.join(root, 'chk-2') });
    assert.deepEqual((await ackOf(posted, 2)).shared, [first.path]);
    checkpointer.aborted(2);
    checkpointer.checkpoint({ checkpointId: 3, savepoint: false, dir: path.join(root, 'chk-3') });
    const third = await ackOf(posted, 3);
    assert.equal(third.shared, undefined);
    assert.equal(third.bytes, first.bytes);
  });

  it('with incremental checkpoints off every checkpoint is full', async () => {
    const backend = new HeapKeyedStateBackend({ maxParallelism: MAX_P, keyGroupRange: keyGroupRangeFor(MAX_P, 1, 0) });
    fill(backend, 1000, (i) => `v${i}`);
    const { checkpointer, posted } = checkpointerOf(backend, { ...tdd, incrementalCheckpoints: false } as TaskDeploymentDescriptor);
    const root = dirs.make('full');
    checkpointer.checkpoint({ checkpointId: 1, savepoint: false, dir: path.join(root, 'chk-1') });
    const first = await ackOf(posted, 1);
    checkpointer.completed(1);
    checkpointer.checkpoint({ checkpointId: 2, savepoint: false, dir: path.join(root, 'chk-2') });
    const second = await ackOf(posted, 2);
    assert.equal(second.shared, undefined);
    assert.equal(second.bytes, first.bytes);
  });

  it('a restored subtask bases its first incremental checkpoint on the checkpoint it restored, also after a rescale', async () => {
    const root = dirs.make('rescale');
    const handles: StateHandle[] = [];
    // Two old subtasks checkpoint (2), then the operator runs at parallelism 3.
    for (let i = 0; i < 2; i++) {
      const old = new HeapKeyedStateBackend({ maxParallelism: MAX_P, keyGroupRange: keyGroupRangeFor(MAX_P, 2, i) });
      const blob = old.getValueState<string>('blob');
      for (let k = 0; k < 5000; k++) {
        try {
          old.setCurrentKey(k);
        } catch {
          continue;
        }
        blob.update(`k${k}`);
      }
      const oldTdd = { ...tdd, subtaskIndex: i, parallelism: 2 } as TaskDeploymentDescriptor;
      const { checkpointer, posted } = checkpointerOf(old, oldTdd);
      checkpointer.checkpoint({ checkpointId: 2, savepoint: false, dir: path.join(root, 'chk-2') });
      handles.push(await ackOf(posted, 2));
    }
    const newTdd = { ...tdd, subtaskIndex: 1, parallelism: 3, restore: { checkpointId: 2, handles } } as TaskDeploymentDescriptor;
    const restored = (await loadRestoredState(newTdd))!;
    const backend = new HeapKeyedStateBackend({ maxParallelism: MAX_P, keyGroupRange: keyGroupRangeFor(MAX_P, 3, 1) });
    backend.restore(restored.keyedState[OP]!);
    const { checkpointer, posted } = checkpointerOf(backend, newTdd);
    checkpointer.history.restored(restored.checkpointId, restored.locations);
    checkpointer.completed(2);
    checkpointer.checkpoint({ checkpointId: 3, savepoint: false, dir: path.join(root, 'chk-3') });
    const handle = await ackOf(posted, 3);
    assert.equal(checkpointer.lastTimings!.written, 0, 'nothing changed since the restore');
    assert.deepEqual(new Set(handle.shared), new Set(handles.map((h) => h.path)), 'its key groups come from both old subtasks');
    // Read in through its references, it holds exactly the restored subtask's state.
    const again = new HeapKeyedStateBackend({ maxParallelism: MAX_P, keyGroupRange: keyGroupRangeFor(MAX_P, 3, 1) });
    again.restore((await readSelfContained(handle.path)).keyedState[OP]!);
    assert.deepEqual(again.snapshot(), backend.snapshot());
  });
});

describe('task - incremental checkpoints by entry: deltas and their chains', () => {
  afterEach(() => dirs.removeAll());

  it('removals, re-adds and map state changes go through a chain of deltas; a chain at its bound is compacted to its full record and one delta since it', async () => {
    const backend = new HeapKeyedStateBackend({ maxParallelism: 4, keyGroupRange: keyGroupRangeFor(4, 1, 0) });
    const count = backend.getValueState<number>('count');
    const tags = backend.getMapState<string, number>('tags');
    for (let i = 0; i < 400; i++) {
      backend.setCurrentKey(`k${i}`);
      count.update(i);
      tags.put('a', i);
    }
    const { checkpointer, posted } = checkpointerOf(backend);
    const root = dirs.make('deltas');
    let handle: StateHandle | undefined;
    let firstPath = '';
    const lengths = new Map<number, number>();
    let compactions = 0;
    for (let id = 1; id <= 2 * MAX_CHAIN + 1; id++) {
      if (id > 1) {
        checkpointer.completed(id - 1);
        backend.setCurrentKey(`k${id}`);
        count.clear(); // removed
        tags.remove('a');
        backend.setCurrentKey(`k${id + 100}`);
        count.update(-id); // changed
        tags.put('b', id);
        backend.setCurrentKey(`k${id - 1}`);
        count.update(1000 + id); // removed in the previous checkpoint, added again
        backend.setCurrentKey(`new${id}`);
        count.update(id); // new
      }
      checkpointer.checkpoint({ checkpointId: id, savepoint: false, dir: path.join(root, `chk-${id}`) });
      handle = await ackOf(posted, id);
      if (id === 1) firstPath = handle.path;
      const chains = Object.values((await readSnapshot(handle.path)).references ?? {}).flat();
      assert.ok(chains.every(([, chain]) => chain[0] === firstPath), 'every chain starts at the full record of the first checkpoint');
      const inline = Object.values((await readSnapshot(handle.path)).keyedState).flat();
      if (id > 1) assert.ok(inline.length > 0 && inline.every((g) => 'removed' in g), `checkpoint ${id} writes deltas only`);
      const changed = new Set(inline.map((g) => g.keyGroup));
      for (const [kg, chain] of chains) {
        assert.ok(chain.length + (changed.has(kg) ? 1 : 0) <= MAX_CHAIN, `the chain of key group ${kg} stays within ${MAX_CHAIN} objects`);
        // A changed key group whose chain was at its bound refers to its full record only (compacted).
        if (changed.has(kg) && lengths.get(kg) === MAX_CHAIN) {
          assert.equal(chain.length, 1, `key group ${kg} compacted at checkpoint ${id}`);
          compactions++;
        }
        lengths.set(kg, chain.length + (changed.has(kg) ? 1 : 0));
      }
      const restored = await loadRestoredState(restoreTdd(id, handle));
      const again = new HeapKeyedStateBackend({ maxParallelism: 4, keyGroupRange: keyGroupRangeFor(4, 1, 0) });
      again.restore(restored!.keyedState[OP]!);
      assert.deepEqual(again.snapshot(), backend.snapshot(), `checkpoint ${id} restores the state at its barrier`);
    }
    assert.ok(checkpointer.lastTimings!.written > 0);
    assert.ok(compactions > 0, 'chains reached their bound and were compacted');
  });

  it('under heavy churn (logs of written keys tidied and started again, deltas and full records mixed) every checkpoint restores the state at its barrier', async () => {
    const backend = new HeapKeyedStateBackend({ maxParallelism: 2, keyGroupRange: keyGroupRangeFor(2, 1, 0) });
    const count = backend.getValueState<number>('count');
    const tags = backend.getMapState<string, number>('tags');
    const { checkpointer, posted } = checkpointerOf(backend);
    const root = dirs.make('churn');
    let seed = 3;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return (seed >>> 4) % n;
    };
    let deltas = 0;
    for (let id = 1; id <= 14; id++) {
      // Rounds alternate between a few keys written many times and most keys changed.
      const writes = id % 3 === 0 ? 600 : 40;
      for (let i = 0; i < writes; i++) {
        backend.setCurrentKey(`k${next(300)}`);
        const op = next(10);
        if (op === 0) count.clear();
        else if (op === 1) tags.remove('t');
        else if (op === 2) tags.put(`t${next(3)}`, id);
        else count.update(id * 1000 + i);
      }
      checkpointer.checkpoint({ checkpointId: id, savepoint: false, dir: path.join(root, `chk-${id}`) });
      const handle = await ackOf(posted, id);
      checkpointer.completed(id);
      deltas += Object.values((await readSnapshot(handle.path)).keyedState).flat().filter((g) => 'removed' in g).length;
      const restored = await loadRestoredState(restoreTdd(id, handle));
      const again = new HeapKeyedStateBackend({ maxParallelism: 2, keyGroupRange: keyGroupRangeFor(2, 1, 0) });
      again.restore(restored!.keyedState[OP] ?? []);
      const sorted = (b: HeapKeyedStateBackend) =>
        b.snapshot().map((g) => ({ ...g, states: Object.fromEntries(Object.entries(g.states).map(([n, st]) => [n, [...st.entries].map((e) => JSON.stringify(e)).sort()])) }));
      assert.deepEqual(sorted(again), sorted(backend), `checkpoint ${id} restores the state at its barrier`);
    }
    assert.ok(deltas > 0, 'some checkpoints wrote deltas');
  });

  it('a delta that would hold more than half of its key group is written whole: a new chain that refers to nothing', async () => {
    const backend = new HeapKeyedStateBackend({ maxParallelism: 4, keyGroupRange: keyGroupRangeFor(4, 1, 0) });
    fill(backend, 400, (i) => `v1-${i}`);
    const { checkpointer, posted } = checkpointerOf(backend);
    const root = dirs.make('rewrite');
    checkpointer.checkpoint({ checkpointId: 1, savepoint: false, dir: path.join(root, 'chk-1') });
    const first = await ackOf(posted, 1);
    checkpointer.completed(1);
    // Key k0 changes (a delta of its key group); every other key of k1's key group changes or goes.
    const blob = backend.getValueState<string>('blob');
    const kg1 = (() => {
      backend.setCurrentKey(1);
      return backend.currentKeyGroup!;
    })();
    backend.setCurrentKey(0);
    const kg0 = backend.currentKeyGroup!;
    assert.notEqual(kg0, kg1, 'keys 0 and 1 are in different key groups');
    blob.update('v2-0');
    for (let i = 1; i < 400; i++) {
      backend.setCurrentKey(i);
      if (backend.currentKeyGroup !== kg1) continue;
      if (i % 2 === 0) blob.clear();
      else blob.update(`v2-${i}`);
    }
    checkpointer.checkpoint({ checkpointId: 2, savepoint: false, dir: path.join(root, 'chk-2') });
    const second = await ackOf(posted, 2);
    const snapshot = await readSnapshot(second.path);
    const inline = new Map(Object.values(snapshot.keyedState).flat().map((g) => [g.keyGroup, g]));
    assert.ok('removed' in inline.get(kg0)!, 'the key group with one change gets a delta');
    assert.ok(!('removed' in inline.get(kg1)!), 'the key group that changed almost whole is written whole');
    const refs = new Map(snapshot.references![OP]!);
    assert.deepEqual(refs.get(kg0), [first.path]);
    assert.equal(refs.has(kg1), false, 'the rewritten key group refers to nothing');
    assert.deepEqual(second.shared, [first.path]);
    const restored = await loadRestoredState(restoreTdd(2, second));
    const again = new HeapKeyedStateBackend({ maxParallelism: 4, keyGroupRange: keyGroupRangeFor(4, 1, 0) });
    again.restore(restored!.keyedState[OP]!);
    assert.deepEqual(again.snapshot(), backend.snapshot());
    // The next checkpoint bases the rewritten key group's chain on the second checkpoint's file.
    checkpointer.completed(2);
    backend.setCurrentKey(1);
    blob.update('v3-1');
    checkpointer.checkpoint({ checkpointId: 3, savepoint: false, dir: path.join(root, 'chk-3') });
    const third = await ackOf(posted, 3);
    assert.deepEqual(new Map((await readSnapshot(third.path)).references![OP]!).get(kg1), [second.path]);
  });
});
