/**
 * A decoder for the MessagePack that most control-plane frames are made of: arrays, maps with
 * ASCII keys, ASCII strings, small integers, doubles, booleans and nil. It returns exactly what
 * msgpackr returns for them (the wire codec's fast path), and NOT_COMMON at the first thing it
 * does not handle (extensions such as ActorRefs and dates, binaries, other text, 64-bit
 * integers, float32, ...), for msgpackr to decode the frame instead.
 *
 * Why: msgpackr's per-call set-up and its native string extraction (a call into C++ per string,
 * made for large frames) cost more than a small frame's whole decode; a remote tell's frame
 * is some 20 bytes. It runs only on frames that passed the decode budget's pre-scan (one
 * well-formed value filling the span), and allocates only what the value is made of.
 */

/** Returned for a frame with anything this decoder does not handle. */
export const NOT_COMMON: unique symbol = Symbol('not common');

/** Decoding is synchronous and never re-entered: one module-level cursor. */
let src: Buffer = Buffer.alloc(0);
let pos = 0;
let end = 0;

/** Thrown (and caught below) to abandon a frame; no Error is made. */
const ABANDON = NOT_COMMON;

const fromCharCode = String.fromCharCode;

/** The value of `bytes[start, stop)`, or NOT_COMMON. */
export function decodeCommon(bytes: Uint8Array, start: number, stop: number): unknown {
  if (!Buffer.isBuffer(bytes)) return NOT_COMMON;
  src = bytes;
  pos = start;
  end = stop;
  try {
    const value = read();
    return pos === end ? value : NOT_COMMON;
  } catch (err) {
    if (err === ABANDON) return NOT_COMMON;
    throw err;
  } finally {
    src = EMPTY;
  }
}

/** Do not keep the last chunk alive between frames. */
const EMPTY = Buffer.alloc(0);

function need(bytes: number): void {
  if (pos + bytes > end) throw ABANDON;
}

function read(): unknown {
  need(1);
  const b = src[pos++]!;
  if (b <= 0x7f) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b <= 0x8f) return readMap(b & 0x0f);
  if (b <= 0x9f) return readArray(b & 0x0f);
  if (b <= 0xbf) return readAscii(b & 0x1f);
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xcb: {
      need(8);
      pos += 8;
      return src.readDoubleBE(pos - 8);
    }
    case 0xcc:
      need(1);
      return src[pos++]!;
    case 0xcd:
      need(2);
      pos += 2;
      return (src[pos - 2]! << 8) | src[pos - 1]!;
    case 0xce:
      need(4);
      pos += 4;
      return src[pos - 4]! * 0x1000000 + ((src[pos - 3]! << 16) | (src[pos - 2]! << 8) | src[pos - 1]!);
    case 0xd0:
      need(1);
      return (src[pos++]! << 24) >> 24;
    case 0xd1:
      need(2);
      pos += 2;
      return (((src[pos - 2]! << 8) | src[pos - 1]!) << 16) >> 16;
    case 0xd2:
      need(4);
      pos += 4;
      return (src[pos - 4]! << 24) | (src[pos - 3]! << 16) | (src[pos - 2]! << 8) | src[pos - 1]!;
    case 0xd9:
      need(1);
      return readAscii(src[pos++]!);
    case 0xdc:
      need(2);
      pos += 2;
      return readArray((src[pos - 2]! << 8) | src[pos - 1]!);
    case 0xde:
      need(2);
      pos += 2;
      return readMap((src[pos - 2]! << 8) | src[pos - 1]!);
    default:
      throw ABANDON;
  }
}

function readArray(length: number): unknown[] {
  const array = new Array<unknown>(length);
  for (let i = 0; i < length; i++) array[i] = read();
  return array;
}

function readMap(length: number): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (let i = 0; i < length; i++) {
    need(1);
    const b = src[pos++]!;
    // Keys that are short ASCII strings; anything else (and msgpackr's __proto__ renaming) goes to msgpackr.
    if (b < 0xa0 || b > 0xbf) throw ABANDON;
    const key = readAscii(b & 0x1f);
    if (key === '__proto__') throw ABANDON;
    object[key] = read();
  }
  return object;
}

/**
 * Short strings seen before (actor names, message types, keys) come back as the same string:
 * no allocation, and its hash, which every Map and property lookup by it needs, is already
 * computed. Bounded: a slot per hash, the newer string replaces the older.
 */
const CACHED_STRING_BYTES = 24;
const STRING_CACHE_SLOTS = 4096;
const stringCache: Array<string | undefined> = new Array<string | undefined>(STRING_CACHE_SLOTS).fill(undefined);

function readAscii(length: number): string {
  need(length);
  const at = pos;
  let high = 0;
  let hash = length;
  for (let i = at; i < at + length; i++) {
    const c = src[i]!;
    high |= c;
    hash = (Math.imul(hash, 31) + c) | 0;
  }
  if (high & 0x80) throw ABANDON;
  pos += length;
  if (length > CACHED_STRING_BYTES) return src.toString('latin1', at, at + length);
  const slot = hash & (STRING_CACHE_SLOTS - 1);
  const cached = stringCache[slot];
  if (cached !== undefined && cached.length === length && sameAscii(cached, at)) return cached;
  const string = asciiString(at, length);
  stringCache[slot] = string;
  return string;
}

function sameAscii(string: string, at: number): boolean {
  for (let i = 0; i < string.length; i++) if (string.charCodeAt(i) !== src[at + i]) return false;
  return true;
}

function asciiString(at: number, length: number): string {
  switch (length) {
    case 0:
      return '';
    case 1:
      return fromCharCode(src[at]!);
    case 2:
      return fromCharCode(src[at]!, src[at + 1]!);
    case 3:
      return fromCharCode(src[at]!, src[at + 1]!, src[at + 2]!);
    case 4:
      return fromCharCode(src[at]!, src[at + 1]!, src[at + 2]!, src[at + 3]!);
    case 5:
      return fromCharCode(src[at]!, src[at + 1]!, src[at + 2]!, src[at + 3]!, src[at + 4]!);
    case 6:
      return fromCharCode(src[at]!, src[at + 1]!, src[at + 2]!, src[at + 3]!, src[at + 4]!, src[at + 5]!);
    case 7:
      return fromCharCode(src[at]!, src[at + 1]!, src[at + 2]!, src[at + 3]!, src[at + 4]!, src[at + 5]!, src[at + 6]!);
    case 8:
      return fromCharCode(src[at]!, src[at + 1]!, src[at + 2]!, src[at + 3]!, src[at + 4]!, src[at + 5]!, src[at + 6]!, src[at + 7]!);
    default:
      return src.toString('latin1', at, at + length);
  }
}
