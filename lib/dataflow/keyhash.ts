/**
 * A stable hash of keys. Keys are partitioned by key group on the sending subtask and looked
 * up by key group in the receiving subtask's state, possibly in another process, and after a
 * restore in yet another one: the hash must depend on the key's value only, never on object
 * identity, insertion order or the engine. So a key is first written in a canonical encoding
 * (a string, prefix-free per type so that `['a', 'b']` and `'ab'` differ), then hashed with
 * murmur3 (x86, 32 bit) over the UTF-16 code units of that encoding.
 *
 * Changing the encoding or the hash invalidates every checkpoint taken before: golden values
 * in the unit tests guard against that.
 */
import { InvalidKeyError } from './errors.js';

/** What a key selector may return: scalars and (nested) arrays of them, e.g. tuples. */
export type Key = string | number | boolean | readonly Key[];

/**
 * The canonical encoding of a key. Also used as the identity of a key in the state backend,
 * so two keys are the same key exactly when their encodings are equal (`0` and `-0` are).
 */
export function encodeKey(key: unknown): string {
  switch (typeof key) {
    case 'string':
      return `s${key.length}:${key}`;
    case 'number':
      // String(n) is the shortest round-trip form in every engine (ECMAScript Number::toString).
      return `n${String(key)};`;
    case 'boolean':
      return key ? 't' : 'f';
    case 'object':
      if (Array.isArray(key)) {
        let out = `a${key.length}:`;
        for (const item of key) out += encodeKey(item);
        return out;
      }
      throw new InvalidKeyError(key === null ? 'null is not a key' : 'objects are not keys; select a field or a tuple');
    default:
      throw new InvalidKeyError(`a ${typeof key} is not a key`);
  }
}

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** murmur3's scramble of one 32-bit block (small: V8 inlines these into the loops below). */
function scramble(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

/** Mixes one full block into the running hash. */
function mixBlock(h: number, k: number): number {
  h ^= scramble(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The final avalanche over `units` UTF-16 code units (2 bytes each). Unsigned. */
function finish(h: number, units: number): number {
  h ^= units * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3 x86_32 over the string's UTF-16 code units, two units per 32-bit block. Unsigned. */
export function murmur3(text: string, seed = 0): number {
  let h = seed | 0;
  const length = text.length;
  let i = 0;
  for (; i + 1 < length; i += 2) h = mixBlock(h, (text.charCodeAt(i) & 0xffff) | ((text.charCodeAt(i + 1) & 0xffff) << 16));
  if (i < length) h ^= scramble(text.charCodeAt(i) & 0xffff);
  return finish(h, length);
}

/** murmur3 x86_32 of `a + b`, without building the concatenation. */
function murmur3Concat(a: string, b: string): number {
  let h = 0;
  const la = a.length;
  const lb = b.length;
  let i = 0;
  let j = 0;
  for (; i + 1 < la; i += 2) h = mixBlock(h, (a.charCodeAt(i) & 0xffff) | ((a.charCodeAt(i + 1) & 0xffff) << 16));
  let tail = -1;
  if (i < la) {
    // An odd-length prefix: its last unit and b's first form one block.
    if (lb > 0) {
      h = mixBlock(h, (a.charCodeAt(i) & 0xffff) | ((b.charCodeAt(0) & 0xffff) << 16));
      j = 1;
    } else {
      tail = a.charCodeAt(i) & 0xffff;
    }
  }
  for (; j + 1 < lb; j += 2) h = mixBlock(h, (b.charCodeAt(j) & 0xffff) | ((b.charCodeAt(j + 1) & 0xffff) << 16));
  if (j < lb) tail = b.charCodeAt(j) & 0xffff;
  if (tail >= 0) h ^= scramble(tail);
  return finish(h, la + lb);
}

/** `s${length}:`, the encoding's prefix of a string key, for the usual lengths. */
const STRING_PREFIXES = Array.from({ length: 256 }, (_, n) => `s${n}:`);

/** Hashes of the small non-negative integer keys, filled on first use (0 = not yet: 0 is stored as 2^32). */
const SMALL_INT_KEYS = 1 << 16;
const smallIntHashes = new Float64Array(SMALL_INT_KEYS);

/** The stable 32-bit unsigned hash of a key: `murmur3(encodeKey(key))`, faster for plain strings and numbers. */
export function hashKey(key: unknown): number {
  if (typeof key === 'string') {
    const n = key.length;
    return murmur3Concat(n < STRING_PREFIXES.length ? (STRING_PREFIXES[n] as string) : `s${n}:`, key);
  }
  if (typeof key === 'number') {
    if (key >>> 0 === key && key < SMALL_INT_KEYS) {
      const cached = smallIntHashes[key] as number;
      // `>>> 0` maps the stored 2^32 back to 0, and keeps the result a uint32 (integer modulo for key groups, not fmod).
      if (cached !== 0) return cached >>> 0;
      const h = murmur3(encodeKey(key));
      smallIntHashes[key] = h === 0 ? 0x100000000 : h;
      return h;
    }
    return murmur3(encodeKey(key));
  }
  return murmur3(encodeKey(key));
}
