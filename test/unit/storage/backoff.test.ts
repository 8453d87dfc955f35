import assert from 'node:assert/strict';
import { StorageErrorCode, StorageFailedError, StorageNotFoundError, withBackoff } from '../../../lib/storage/index.js';

describe('storage - retries with backoff', () => {
  it('retries a failed store operation until it succeeds', async () => {
    const at: number[] = [];
    const value = await withBackoff(async () => {
      at.push(Date.now());
      if (at.length < 3) throw new StorageFailedError('uploading', 's3://b/k', new Error('503 Slow Down'));
      return 'done';
    });
    assert.equal(value, 'done');
    assert.equal(at.length, 3);
  });

  it('gives up after its attempts with the last error, and never retries a refused request, a missing object or a file error', async () => {
    let calls = 0;
    await assert.rejects(
      withBackoff(async () => {
        calls++;
        throw new StorageFailedError('uploading', 's3://b/k', new Error('down'));
      }, 2),
      { code: StorageErrorCode.Failed },
    );
    assert.equal(calls, 2);
    const refused = new StorageFailedError('uploading', 's3://b/k', new Error('NoSuchBucket'), false);
    for (const error of [refused, new StorageNotFoundError('s3://b/k'), Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' })]) {
      calls = 0;
      await assert.rejects(
        withBackoff(async () => {
          calls++;
          throw error;
        }),
        (err) => err === error,
      );
      assert.equal(calls, 1, String(error));
    }
  });
});
