import assert from 'node:assert/strict';
import { ErrorCode } from '../../../lib/errors.js';
import { resolveWithinRoots } from '../../../lib/util/path-roots.js';

const refused = { code: ErrorCode.PathOutsideRoots };

describe('util - paths confined to roots', () => {
  const roots = ['/data/savepoints', '/shared/sp/'];

  it('accepts a root and what lies below it, normalized', () => {
    assert.equal(resolveWithinRoots('target', '/data/savepoints', roots), '/data/savepoints');
    assert.equal(resolveWithinRoots('target', '/data/savepoints/a/./b/../c', roots), '/data/savepoints/a/c');
    assert.equal(resolveWithinRoots('target', '/shared/sp/..x', roots), '/shared/sp/..x');
  });

  it('refuses relative paths, .. escapes, siblings with a common prefix, and NUL bytes', () => {
    for (const given of ['relative/dir', '/data/savepoints/../etc', '/data/savepoints/a/../../x', '/data/savepoints-evil', '/', '/data/savepoints/\0x']) {
      assert.throws(() => resolveWithinRoots('target', given, roots), refused, given);
    }
    assert.throws(() => resolveWithinRoots('target', '/anything', []), refused);
  });

  it('storage URLs: an s3:// target lies below an s3:// root of the same bucket; a file:// URL is a path', () => {
    const mixed = ['/data/savepoints', 's3://bucket-a/savepoints'];
    assert.equal(resolveWithinRoots('target', 's3://bucket-a/savepoints/team-1/', mixed), 's3://bucket-a/savepoints/team-1');
    assert.equal(resolveWithinRoots('target', 'file:///data/savepoints/x', mixed), '/data/savepoints/x');
    for (const given of ['s3://bucket-b/savepoints/x', 's3://bucket-a/savepoints-evil', 's3://bucket-a/savepoints/../x', 'file:///etc', 'http://bucket-a/savepoints']) {
      assert.throws(() => resolveWithinRoots('target', given, mixed), refused, given);
    }
    assert.throws(() => resolveWithinRoots('target', 's3://bucket-a/savepoints/x', roots), refused, 'no s3 root, no s3 target');
  });
});
