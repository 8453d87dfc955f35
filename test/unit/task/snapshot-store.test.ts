import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { keyGroupRangeFor } from '../../../lib/dataflow/keygroups.js';
import { HeapKeyedStateBackend } from '../../../lib/dataflow/state.js';
import type { TaskDeploymentDescriptor } from '../../../lib/task/descriptor.js';
import { encodeSnapshot, loadRestoredState, readSnapshot, snapshotPath, SNAPSHOT_VERSION, writeSnapshot, type TaskSnapshot } from '../../../lib/task/snapshot-store.js';
import { TempDirs } from '../../support/temp-dirs.js';

const dirs = new TempDirs();
const newDir = () => dirs.make('snapshots');

function backendWith(keys: number, parallelism: number, index: number): HeapKeyedStateBackend {
  const backend = new HeapKeyedStateBackend({ maxParallelism: 128, keyGroupRange: keyGroupRangeFor(128, parallelism, index) });
  const count = backend.getValueState<number>('count');
  for (let i = 0; i < keys; i++) {
    try {
      backend.setCurrentKey(`key-${i}`);
    } catch {
      continue; // not in this subtask's key groups
    }
    count.update(i);
  }
  return backend;
}

function snapshotOf(backend: HeapKeyedStateBackend, checkpointId: number, subtaskIndex: number, parallelism: number, extra: Partial<TaskSnapshot> = {}): TaskSnapshot {
  return { version: SNAPSHOT_VERSION, checkpointId, vertexId: 'op-1', subtaskIndex, parallelism, keyedState: { 'op-1': backend.snapshot() }, sinks: {}, ...extra };
}

const tddFor = (subtaskIndex: number, parallelism: number, handles: { path: string; subtaskIndex: number }[]): TaskDeploymentDescriptor =>
  ({
    executionId: `job/1/op-1/${subtaskIndex}`,
    vertexId: 'op-1',
    subtaskIndex,
    parallelism,
    restore: { checkpointId: 3, handles: handles.map((h) => ({ vertexId: 'op-1', subtaskIndex: h.subtaskIndex, path: h.path, bytes: 0 })) },
  }) as TaskDeploymentDescriptor;

describe('task - snapshot files', () => {
  afterEach(() => dirs.removeAll());
  it('snapshot files - write atomically and read back the same snapshot', async () => {
    const dir = path.join(newDir(), 'chk-1');
    const snap = snapshotOf(backendWith(1000, 1, 0), 1, 0, 1, { sourcePositions: { '0': 42, '2': 7 }, sinks: { 'op-9': { pending: [] } } });
    const file = snapshotPath(dir, 'op-1', 0);
    await writeSnapshot(file, encodeSnapshot(snap));
    assert.deepEqual(readdirSync(dir), ['op-1-0.state']);
    assert.deepEqual(await readSnapshot(file), snap);
  });

  it('snapshot files - a write into an unwritable place fails and leaves nothing', async () => {
    const root = newDir();
    writeFileSync(path.join(root, 'file'), 'x');
    const dir = path.join(root, 'file', 'chk-1');
    await assert.rejects(writeSnapshot(snapshotPath(dir, 'op-1', 0), Buffer.from('x')));
    assert.equal(existsSync(dir), false);
  });

  it('snapshot files - restore gathers every old subtask\'s key groups and split positions, at another parallelism', async () => {
    const dir = newDir();
    const handles = [];
    for (let i = 0; i < 2; i++) {
      const p = snapshotPath(dir, 'op-1', i);
      await writeSnapshot(p, encodeSnapshot(snapshotOf(backendWith(500, 2, i), 3, i, 2, { sourcePositions: { [String(i)]: 100 + i, [String(i + 2)]: 200 + i }, sinks: { sink: { i } } })));
      handles.push({ path: p, subtaskIndex: i });
    }
    // Keyed operator rescaled to 3: subtask 1 gets all groups (the backend keeps its range) and the sink state of old subtask 1.
    const restored = await loadRestoredState(tddFor(1, 3, handles));
    assert.ok(restored);
    const backend = new HeapKeyedStateBackend({ maxParallelism: 128, keyGroupRange: keyGroupRangeFor(128, 3, 1) });
    backend.restore(restored.keyedState['op-1'] ?? []);
    assert.equal(backend.numKeys('count'), backendWith(500, 3, 1).numKeys('count'));
    assert.deepEqual(restored.sinks, { sink: [{ i: 1 }] });
    // Every split's position, whichever old subtask read it: the source's reader keeps those it owns now.
    assert.deepEqual(restored.sourcePositions, { '0': 100, '1': 101, '2': 200, '3': 201 });
    await assert.rejects(loadRestoredState(tddFor(0, 2, [{ path: path.join(dir, 'missing'), subtaskIndex: 0 }])), { code: 'RESTORE_FAILED' });
  });

  it('snapshot files - a truncated object or one of another version is refused, not misread', async () => {
    const dir = newDir();
    const bytes = encodeSnapshot(snapshotOf(backendWith(1000, 1, 0), 1, 0, 1));
    const cut = snapshotPath(dir, 'op-1', 0);
    await writeSnapshot(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(readSnapshot(cut));
    const old = snapshotPath(dir, 'op-1', 1);
    await writeSnapshot(old, encodeSnapshot({ ...snapshotOf(backendWith(10, 1, 0), 1, 0, 1), version: 2 }));
    await assert.rejects(readSnapshot(old), /version 3/);
  });

  it('snapshot files - throughput of a large keyed state (encode synchronously, write asynchronously)', async function () {
    this.timeout(60_000);
    const backend = backendWith(1_000_000, 1, 0);
    const started = performance.now();
    const bytes = encodeSnapshot(snapshotOf(backend, 1, 0, 1));
    const encoded = performance.now();
    const dir = path.join(newDir(), 'chk-1');
    await writeSnapshot(snapshotPath(dir, 'op-1', 0), bytes);
    const written = performance.now();
    const mb = bytes.length / (1024 * 1024);
    const line = `snapshot of 1M keys: ${mb.toFixed(1)} MB, sync phase ${(encoded - started).toFixed(0)} ms (${(mb / ((encoded - started) / 1000)).toFixed(0)} MB/s), async write ${(written - encoded).toFixed(0)} ms (${(mb / ((written - encoded) / 1000)).toFixed(0)} MB/s)`;
    if (process.env['SNAPSHOT_BENCH'] !== undefined) process.stdout.write(`      ${line}\n`);
    assert.ok(bytes.length > 1_000_000, line);
  });
});
