import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  completeDirectory,
  deleteBelow,
  deleteObjects,
  directoryExists,
  FileStorage,
  isWithinLocation,
  joinLocation,
  listBelow,
  normalizeLocation,
  objectExists,
  parentOf,
  parseLocation,
  readObject,
  StorageErrorCode,
  writeObject,
} from '../../../lib/storage/index.js';

const dirs: string[] = [];
function newDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'flinkish-storage-'));
  dirs.push(dir);
  return dir;
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('storage - locations', () => {
  it('a plain path and a file URL are the same absolute path; s3 URLs keep bucket and key', () => {
    assert.equal(normalizeLocation('file:///var/ckpt/'), '/var/ckpt');
    assert.equal(normalizeLocation('/var/ckpt/../ckpt'), '/var/ckpt');
    assert.equal(normalizeLocation('rel', '/base'), '/base/rel');
    assert.equal(normalizeLocation('s3://my-bucket/a//b/'), 's3://my-bucket/a/b');
    assert.deepEqual(parseLocation('s3://my-bucket'), { kind: 's3', bucket: 'my-bucket', key: '' });
    assert.equal(joinLocation('s3://b-1/ckpt/', 'job', 'chk-1'), 's3://b-1/ckpt/job/chk-1');
    assert.equal(joinLocation('/var/ckpt', 'job'), '/var/ckpt/job');
    assert.equal(parentOf('s3://b-1/ckpt/job/x.state'), 's3://b-1/ckpt/job');
    assert.equal(parentOf('/var/x.state'), '/var');
  });

  it('refuses what is not a location, with the code and the forms that are', () => {
    for (const bad of ['', 'http://host/x', 's3://', 's3://UPPER/x', 's3://ok-bucket/a/../b', 'file://remote-host/x']) {
      assert.throws(() => parseLocation(bad), (err: Error & { code?: string }) => {
        assert.equal(err.code, StorageErrorCode.BadLocation, bad);
        assert.match(err.message, /s3:\/\/bucket\/prefix/);
        return true;
      });
    }
  });

  it('confinement: below the root of the same kind and bucket only', () => {
    assert.ok(isWithinLocation('s3://b-1/sp', 's3://b-1/sp/x'));
    assert.ok(!isWithinLocation('s3://b-1/sp', 's3://b-1/spx'));
    assert.ok(!isWithinLocation('s3://b-1/sp', 's3://b-2/sp/x'));
    assert.ok(!isWithinLocation('/sp', 's3://b-1/sp/x'));
    assert.ok(isWithinLocation('/sp', 'file:///sp/a'));
    assert.ok(!isWithinLocation('/sp', '/spx'));
  });
});

describe('storage - files', () => {
  it('put (bytes and a stream), get, exists, list, delete by prefix, through locations', async () => {
    const root = newDir();
    const a = joinLocation(root, 'job', 'chk-1', 'v-0.state');
    const b = joinLocation(root, 'job', 'chk-1', 'v-1.state');
    await writeObject(a, Buffer.from('zero'));
    const { storage, key } = { storage: new FileStorage(root), key: 'job/chk-1/v-1.state' };
    await storage.put(key, Readable.from([Buffer.from('o'), Buffer.from('ne')]));
    assert.equal((await readObject(b)).toString(), 'one');
    assert.equal(await text(await storage.get('job/chk-1/v-0.state')), 'zero');
    assert.ok(await objectExists(a));
    assert.ok(!(await objectExists(joinLocation(root, 'job', 'nothing'))));
    assert.deepEqual((await listBelow(joinLocation(root, 'job'))).sort(), [a, b]);
    assert.deepEqual((await storage.list('job')).sort(), ['job/chk-1/v-0.state', 'job/chk-1/v-1.state']);
    await deleteObjects([a]);
    assert.deepEqual(await listBelow(joinLocation(root, 'job')), [b]);
    assert.equal(await deleteBelow(joinLocation(root, 'job', 'chk-1')), 1);
    assert.deepEqual(readdirSync(path.join(root, 'job')), []);
    assert.equal(await deleteBelow(joinLocation(root, 'job', 'chk-9')), 0, 'a missing directory is no error');
  });

  it('files are 0600 in 0700 directories, written by the synchronous path too', async () => {
    const root = newDir();
    const storage = new FileStorage(root);
    await storage.put('a/b/async.state', Buffer.from('x'));
    storage.putSync('c/sync.state', Buffer.from('y'));
    for (const file of ['a/b/async.state', 'c/sync.state']) assert.equal(statSync(path.join(root, file)).mode & 0o777, 0o600, file);
    for (const dir of ['a', 'a/b', 'c']) assert.equal(statSync(path.join(root, dir)).mode & 0o777, 0o700, dir);
  });

  it('a missing object is STORAGE_NOT_FOUND; a key that climbs out of the root is refused', async () => {
    const root = newDir();
    const storage = new FileStorage(root);
    await assert.rejects(readObject(joinLocation(root, 'none')), { code: StorageErrorCode.NotFound });
    await assert.rejects(storage.get('none'), { code: StorageErrorCode.NotFound });
    assert.throws(() => storage.fileOf('../outside'), { code: StorageErrorCode.BadLocation });
  });

  it('completion: the metadata is one atomic file; temp files of writes in progress are not listed', async () => {
    const root = newDir();
    const dir = joinLocation(root, 'savepoint-1');
    await writeObject(joinLocation(dir, 'v-0.state'), Buffer.from('s'));
    writeFileSync(path.join(root, 'savepoint-1', '_metadata.123.abcd.tmp'), 'half');
    assert.ok(await directoryExists(dir));
    assert.ok(!(await objectExists(joinLocation(dir, '_metadata'))));
    await completeDirectory(dir, '{"handles":[]}');
    assert.equal((await readObject(joinLocation(dir, '_metadata'))).toString(), '{"handles":[]}');
    assert.deepEqual((await listBelow(dir)).map((l) => path.basename(l)).sort(), ['_metadata', 'v-0.state']);
    assert.ok(!(await directoryExists(joinLocation(root, 'savepoint-2'))));
  });
});
