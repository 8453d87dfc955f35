/**
 * Files the runtime writes are private to the cluster's user (issue 11, finding 10): job code,
 * snapshots of checkpoints and savepoints, savepoint metadata and job output are created 0600,
 * the directories made for them 0700.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../../../lib/util/atomic-file.js';
import { writeSnapshot } from '../../../lib/task/snapshot-store.js';
import { TransactionalFileSink } from '../../../lib/task/file-sink.js';

const modeOf = (file: string) => statSync(file).mode & 0o777;

describe('file modes - what the runtime writes is private', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(path.join(tmpdir(), 'file-modes-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('the atomic write (savepoint metadata, persisted actors) creates 0600 files in 0700 directories', async () => {
    const file = path.join(root, 'savepoints', 'savepoint-1', '_metadata');
    await writeFileAtomic(file, '{}');
    assert.equal(modeOf(file).toString(8), '600');
    assert.equal(modeOf(path.dirname(file)).toString(8), '700');
    assert.equal(modeOf(path.join(root, 'savepoints')).toString(8), '700');
  });

  it('checkpoint snapshots are 0600 (job code is cached through the atomic write)', async () => {
    const snapshot = path.join(root, 'checkpoints', 'chk-1', 'v-0');
    await writeSnapshot(snapshot, Buffer.from([1, 2, 3]));
    assert.equal(modeOf(snapshot).toString(8), '600');
    assert.equal(modeOf(path.dirname(snapshot)).toString(8), '700');
  });

  it('the transactional file sink writes 0600 parts in a 0700 directory', () => {
    const dir = path.join(root, 'out');
    const sink = new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 1, checkpointing: true });
    sink.write('a');
    sink.snapshot(1);
    sink.commit(1);
    assert.equal(modeOf(dir).toString(8), '700');
    assert.equal(modeOf(path.join(dir, 'part-0-1')).toString(8), '600');
  });
});
