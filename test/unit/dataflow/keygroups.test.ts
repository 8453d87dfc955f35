import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { InvalidKeyError } from '../../../lib/dataflow/errors.js';
import {
  keyGroupFor,
  keyGroupRangeFor,
  keyGroupRangeSize,
  operatorIndexForKey,
  operatorIndexForKeyGroup,
  UPPER_BOUND_MAX_PARALLELISM,
} from '../../../lib/dataflow/keygroups.js';
import { encodeKey, hashKey, murmur3, type Key } from '../../../lib/dataflow/keyhash.js';
import { Partitioner } from '../../../lib/dataflow/description.js';
import { createChannelSelector } from '../../../lib/dataflow/partitioners.js';

describe('dataflow - key hashing', () => {
  it('keeps golden hash values (changing them invalidates every checkpoint)', () => {
    assert.equal(murmur3(''), 0);
    assert.equal(hashKey(''), 3371147992);
    assert.equal(hashKey('a'), 1484595537);
    assert.equal(hashKey('hello'), 254368567);
    assert.equal(hashKey(42), 3571539058);
    assert.equal(hashKey(1.5), 2055226141);
    assert.equal(hashKey(true), 975088374);
    assert.equal(hashKey(false), 3098996306);
    assert.equal(hashKey(['a', 1]), 3645591467);
    assert.equal(hashKey(['a', [true, 'b']]), 3407643608);
    assert.equal(hashKey('ünïcödé 😀'), 4174960058);
  });

  it('gives the same hash in another process', () => {
    const keyhash = fileURLToPath(new URL('../../../lib/dataflow/keyhash.js', import.meta.url));
    const script = `import(${JSON.stringify(keyhash)}).then((m) => console.log(JSON.stringify(['hello', 42, ['a', 1]].map((k) => m.hashKey(k)))))`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), [hashKey('hello'), hashKey(42), hashKey(['a', 1])]);
  });

  it('encodes keys canonically and prefix-free', () => {
    assert.notEqual(encodeKey(['a', 'b']), encodeKey('ab'));
    assert.notEqual(encodeKey(['ab']), encodeKey('ab'));
    assert.notEqual(encodeKey([['a'], 'b']), encodeKey(['a', ['b']]));
    assert.notEqual(encodeKey('1'), encodeKey(1));
    assert.notEqual(encodeKey('true'), encodeKey(true));
    assert.equal(encodeKey(-0), encodeKey(0));
    assert.equal(hashKey([1, 'x']), hashKey([1, 'x']));
  });

  it('rejects values that are not keys', () => {
    for (const bad of [undefined, null, { a: 1 }, () => 1, [1, {}], Symbol('s')]) {
      assert.throws(() => encodeKey(bad), (err: unknown) => err instanceof InvalidKeyError && err.code === 'INVALID_KEY');
    }
  });

  it('spreads keys over key groups', () => {
    const counts = new Array<number>(128).fill(0);
    for (let i = 0; i < 12_800; i++) {
      const kg = keyGroupFor(`key-${i}`, 128);
      counts[kg] = (counts[kg] ?? 0) + 1;
    }
    // 100 expected per group; a decent hash stays well within these bounds.
    assert.ok(Math.min(...counts) > 50, `min ${Math.min(...counts)}`);
    assert.ok(Math.max(...counts) < 150, `max ${Math.max(...counts)}`);
  });
});

describe('dataflow - key groups', () => {
  const cases: [number, number][] = [
    [128, 1],
    [128, 2],
    [128, 3],
    [128, 7],
    [128, 128],
    [10, 3],
    [1, 1],
    [7, 5],
    [UPPER_BOUND_MAX_PARALLELISM, 3],
    [UPPER_BOUND_MAX_PARALLELISM, 1000],
  ];

  it('maps every key group to exactly one operator index, the one whose range holds it', () => {
    for (const [maxP, p] of cases) {
      const ranges = Array.from({ length: p }, (_, i) => keyGroupRangeFor(maxP, p, i));
      for (let kg = 0; kg < maxP; kg++) {
        const index = operatorIndexForKeyGroup(maxP, p, kg);
        assert.ok(index >= 0 && index < p, `${maxP}/${p}: key group ${kg} -> ${index}`);
        const owners = ranges.filter((r) => kg >= r.start && kg <= r.end);
        assert.equal(owners.length, 1, `${maxP}/${p}: key group ${kg} in ${owners.length} ranges`);
        assert.equal(owners[0], ranges[index], `${maxP}/${p}: key group ${kg}`);
      }
    }
  });

  it('makes ranges contiguous, ordered and covering 0..maxParallelism-1', () => {
    for (const [maxP, p] of cases) {
      let expectedStart = 0;
      for (let i = 0; i < p; i++) {
        const r = keyGroupRangeFor(maxP, p, i);
        assert.equal(r.start, expectedStart, `${maxP}/${p} index ${i}`);
        assert.ok(keyGroupRangeSize(r) >= Math.floor(maxP / p) && keyGroupRangeSize(r) <= Math.ceil(maxP / p));
        expectedStart = r.end + 1;
      }
      assert.equal(expectedStart, maxP);
    }
  });

  it('computes ranges as Flink does', () => {
    assert.deepEqual(keyGroupRangeFor(128, 2, 0), { start: 0, end: 63 });
    assert.deepEqual(keyGroupRangeFor(128, 2, 1), { start: 64, end: 127 });
    assert.deepEqual(keyGroupRangeFor(128, 3, 0), { start: 0, end: 42 });
    assert.deepEqual(keyGroupRangeFor(128, 3, 1), { start: 43, end: 85 });
    assert.deepEqual(keyGroupRangeFor(128, 3, 2), { start: 86, end: 127 });
    assert.equal(operatorIndexForKeyGroup(128, 3, 42), 0);
    assert.equal(operatorIndexForKeyGroup(128, 3, 43), 1);
  });

  it('routes a key to the subtask owning its key group', () => {
    for (let i = 0; i < 200; i++) {
      const key = ['word', i];
      const kg = keyGroupFor(key, 128);
      const index = operatorIndexForKey(key, 128, 3);
      const range = keyGroupRangeFor(128, 3, index);
      assert.ok(kg >= range.start && kg <= range.end);
    }
  });

  it('a hash channel selector sends every key where its key group says, small integer keys (remembered) included', () => {
    const select = createChannelSelector({ partitioner: Partitioner.Hash, numberOfChannels: 3, subtaskIndex: 0, maxParallelism: 128, keySelector: (r) => r as Key });
    const keys: Key[] = [0, 1, 65535, 65536, -1, 2.5, 2 ** 40, 'w1', ['a', 1], true];
    for (let i = 0; i < 3000; i++) keys.push(i * 7);
    // Twice: the first time fills the table of small integer keys, the second reads it.
    for (let round = 0; round < 2; round++) for (const key of keys) assert.equal(select(key), operatorIndexForKey(key, 128, 3), `key ${JSON.stringify(key)}`);
  });

  it('rejects invalid arguments with a code', () => {
    assert.throws(() => keyGroupRangeFor(0, 1, 0), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => keyGroupRangeFor(UPPER_BOUND_MAX_PARALLELISM + 1, 1, 0), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => keyGroupRangeFor(4, 5, 0), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => keyGroupRangeFor(4, 2, 2), { code: 'INVALID_ARGUMENT' });
  });
});
