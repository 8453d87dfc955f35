import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileBlobStore } from '../../../lib/ha/blob-store.js';
import { HaErrorCode } from '../../../lib/ha/errors.js';
import { RuntimeError } from '../../../lib/errors.js';

describe('ha blob store', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'blobs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const unavailable = (err: unknown) => err instanceof RuntimeError && err.code === HaErrorCode.BlobUnavailable;

  it('blob store - returns what was written, checked by size and SHA-256', async () => {
    const blobs = new FileBlobStore(path.join(dir, 'a'));
    const ref = await blobs.put('job.collected', Buffer.from('records'));
    assert.equal(ref.bytes, 7);
    assert.match(ref.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(await blobs.get(ref), Buffer.from('records'));
  });

  it('blob store - reports a missing, truncated or replaced file instead of returning it', async () => {
    const blobs = new FileBlobStore(path.join(dir, 'b'));
    const ref = await blobs.put('job.collected', Buffer.from('records'));
    writeFileSync(path.join(blobs.dir, 'job.collected'), 'recor');
    await assert.rejects(blobs.get(ref), unavailable);
    writeFileSync(path.join(blobs.dir, 'job.collected'), 'RECORDS');
    await assert.rejects(blobs.get(ref), unavailable);
    await assert.rejects(blobs.get({ ...ref, name: 'other' }), unavailable);
  });

  it('blob store - takes plain file names only', async () => {
    const blobs = new FileBlobStore(path.join(dir, 'c'));
    await assert.rejects(blobs.put('../escape', Buffer.from('x')), TypeError);
  });
});
