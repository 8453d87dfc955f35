import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { NOT_COMMON, decodeCommon } from '../../../lib/actor/fast-decode.js';

const packr = new Packr({ useRecords: false });

/** Decodes `value`'s bytes at an offset between other bytes, as frames lie in a socket chunk. */
function decodeInChunk(value: unknown): unknown {
  const bytes = packr.pack(value);
  const chunk = Buffer.concat([Buffer.from([0xc1, 0xc1, 0xc1]), bytes, Buffer.from([0x80, 0x90])]);
  return decodeCommon(chunk, 3, 3 + bytes.length);
}

describe('actor - fast decoding of common frames', () => {
  it('decodes what msgpackr decodes, for plain values of every width', () => {
    const values: unknown[] = [
      [1, 'counter', { type: 'inc' }],
      [1, 'jobmaster-1', { type: 'jm.heartbeat', at: 1796138930132, slots: [0, 1, 2], ok: true, none: null, off: false }],
      [0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31)],
      [0.5, -0.25, 1e300, 2 ** 40, -(2 ** 40), -0, NaN],
      ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'abcdef', 'abcdefg', 'abcdefgh', 'abcdefghi', 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(255)],
      Array.from({ length: 20 }, (_, i) => i),
      Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, { nested: [i, `v${i}`] }])),
      {},
      [],
    ];
    for (const value of values) {
      const bytes = packr.pack(value);
      assert.deepEqual(decodeInChunk(value), packr.unpack(bytes), JSON.stringify(value));
    }
  });

  it('leaves everything else to msgpackr: extensions, binaries, non-ASCII text, BigInts, odd keys', () => {
    const others: unknown[] = [
      [1, 'x', { at: new Date(0) }],
      [1, 'x', { missing: undefined }],
      [1, 'x', { code: new Uint8Array(4) }],
      [1, 'x', { text: 'grüße' }],
      { ['grüße']: 1 },
      [2n ** 40n],
      [1, 'x', { ['__proto__']: 1 }],
      new Map([[1, 'a']]),
      'w'.repeat(256),
    ];
    others.forEach((value, i) => assert.equal(decodeInChunk(value), NOT_COMMON, `value ${i}`));
  });

  it('never reads past its span: a value cut short, or one followed by more bytes, is not common', () => {
    const bytes = Buffer.from(packr.pack([1, 'counter', { type: 'inc' }]));
    assert.equal(decodeCommon(bytes, 0, bytes.length - 1), NOT_COMMON);
    const two = Buffer.concat([bytes, bytes]);
    assert.equal(decodeCommon(two, 0, two.length), NOT_COMMON);
    assert.deepEqual(decodeCommon(two, bytes.length, two.length), [1, 'counter', { type: 'inc' }]);
  });

  it('gives back the same string for a short string seen before, and the right one whatever shares its slot', () => {
    const first = decodeInChunk([1, 'counter', { type: 'inc' }]) as [number, string, { type: string }];
    const again = decodeInChunk([1, 'counter', { type: 'inc' }]) as [number, string, { type: string }];
    assert.equal(again[1], first[1]);
    const words = Array.from({ length: 20_000 }, (_, i) => `w${(i * 7919) % 100_003}x${i % 13}`);
    assert.deepEqual(decodeInChunk(words), words);
    assert.deepEqual(decodeInChunk([...words].reverse()), [...words].reverse());
  });
});
