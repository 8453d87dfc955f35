/**
 * A linear pre-scan of a MessagePack frame that estimates what decoding it would allocate, so
 * that a frame which would decode to more than a bound is refused before it is decoded. A byte
 * of MessagePack can become some 60 bytes of heap (an empty map), so a 16 MiB frame of `0x80`
 * would cost a gigabyte and seconds of the event loop; the scan costs one pass and no allocation.
 *
 * It keeps no stack: only how many values are still due. Every due value needs at least one
 * byte, so a container announcing more entries than bytes remain is refused at its header.
 *
 * Extensions are limited to the ones our codec writes: msgpackr would otherwise also honour
 * record definitions (0x72), through which one byte becomes a whole object.
 */
import { ErrorCode } from '../errors.js';
import { FrameError } from './frame.js';

/** The extension types our wire codec writes (lib/actor/codec.ts): `undefined`, Date, ActorRef. */
const EXT_UNDEFINED = 0x00;
const EXT_TIMESTAMP = 0xff;
const EXT_ACTOR_REF = 0x41;

/**
 * Estimated heap bytes per decoded value, measured with Node 20 and msgpackr (empty map ≈ 61
 * bytes, empty array ≈ 40, small bin ≈ 100, a slot in its container 8), rounded up.
 */
const COST = {
  slot: 8,
  heapNumber: 24,
  string: 16,
  binary: 104,
  array: 40,
  map: 64,
  date: 48,
  actorRef: 64,
} as const;

export interface DecodeBudget {
  /** Estimated decoded bytes allowed per frame byte. */
  perFrameByte: number;
  /** Estimated decoded bytes allowed for any one frame, whatever its size. */
  maxBytes: number;
}

/** 32 covers every legitimate shape we measured (the worst, arrays of one small int, is 24). */
export const DEFAULT_DECODE_BYTES_PER_FRAME_BYTE = 32;
/** Small frames always fit: the ratio only matters for large ones. */
const BUDGET_FLOOR = 64 * 1024;

/**
 * The scan's state. Scanning is synchronous and never re-entered, so one module-level cursor
 * serves every call: the scan runs for every frame received, and a closure or a DataView per
 * call cost more than the scan itself.
 */
/** Do not keep the last frame (and the buffer it views) alive between calls. */
const EMPTY = new Uint8Array(0);
let frame: Uint8Array = EMPTY;
let end = 0;
let pos = 0;
/** Where the frame starts in `frame` (positions in messages are relative to it). */
let base = 0;
let due = 0;
let cost = 0;

function malformed(what: string): never {
  throw new FrameError(ErrorCode.ProtocolViolation, `malformed frame at byte ${pos - base}: ${what}`);
}

function need(bytes: number): void {
  if (pos + bytes > end) malformed('truncated');
}

/** A container or payload announcing `n` more values or bytes than the frame can hold. */
function entries(n: number): void {
  due += n;
  if (due > end - pos) malformed(`announces ${n} entries, more than the frame holds`);
}

/** A big-endian length of 1, 2 or 4 bytes (`size` 0, 1, 2). */
function readLength(size: number): number {
  const bytes = 1 << size;
  need(bytes);
  let value = 0;
  for (let i = 0; i < bytes; i++) value = value * 256 + frame[pos + i]!;
  pos += bytes;
  return value;
}

function skip(bytes: number): void {
  need(bytes);
  pos += bytes;
}

function ext(type: number, length: number): void {
  if (type === EXT_ACTOR_REF) {
    // msgpackr writes the ref's [node, name] right after the extension's one byte.
    skip(length);
    entries(1);
    cost += COST.actorRef;
  } else if (type === EXT_UNDEFINED) skip(length);
  else if (type === EXT_TIMESTAMP) {
    skip(length);
    cost += COST.date;
  } else malformed(`extension type ${type} is not part of the protocol`);
}

/**
 * The estimated decoded size of the frame `bytes[start, stop)` (all of `bytes` by default);
 * throws FrameError when it exceeds the budget or is malformed. A frame that passes is one
 * well-formed value ending exactly at `stop`, so a decoder reading it at that offset stays inside it.
 */
export function checkDecodeBudget(bytes: Uint8Array, budget: DecodeBudget, start = 0, stop = bytes.length): number {
  const length = stop - start;
  const limit = Math.min(budget.maxBytes, BUDGET_FLOOR + budget.perFrameByte * length);
  frame = bytes;
  end = stop;
  pos = start;
  base = start;
  due = 1;
  cost = 0;
  try {
    scan(limit);
  } finally {
    frame = EMPTY;
  }
  if (cost > limit) {
    throw new FrameError(
      ErrorCode.FrameTooComplex,
      `frame of ${length} bytes would decode to more than ${limit} bytes (estimated ${cost} after ${pos - start} bytes)`,
      { details: { length, limit, estimated: cost } },
    );
  }
  if (pos !== end) malformed(`${end - pos} bytes after the value`);
  return cost;
}

function scan(limit: number): void {
  while (due > 0) {
    if (cost > limit) return;
    if (pos >= end) malformed('truncated');
    const b = frame[pos++]!;
    due--;
    cost += COST.slot;
    if (b <= 0x7f || b >= 0xe0) continue;
    if (b <= 0x8f) {
      cost += COST.map;
      entries(2 * (b & 0x0f));
      continue;
    }
    if (b <= 0x9f) {
      cost += COST.array;
      entries(b & 0x0f);
      continue;
    }
    if (b <= 0xbf) {
      const length = b & 0x1f;
      cost += COST.string + length;
      skip(length);
      continue;
    }
    switch (b) {
      case 0xc0:
      case 0xc2:
      case 0xc3:
        continue;
      case 0xc4:
      case 0xc5:
      case 0xc6: {
        const length = readLength(b - 0xc4);
        cost += COST.binary + length;
        skip(length);
        continue;
      }
      case 0xc7:
      case 0xc8:
      case 0xc9: {
        const length = readLength(b - 0xc7);
        need(1);
        const type = frame[pos++]!;
        ext(type, length);
        continue;
      }
      case 0xca:
        skip(4);
        cost += COST.heapNumber;
        continue;
      case 0xcb:
      case 0xcf:
      case 0xd3:
        skip(8);
        cost += COST.heapNumber;
        continue;
      case 0xcc:
      case 0xd0:
        skip(1);
        continue;
      case 0xcd:
      case 0xd1:
        skip(2);
        continue;
      case 0xce:
      case 0xd2:
        skip(4);
        cost += COST.heapNumber;
        continue;
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8: {
        need(1);
        const type = frame[pos++]!;
        ext(type, 1 << (b - 0xd4));
        continue;
      }
      case 0xd9:
      case 0xda:
      case 0xdb: {
        const length = readLength(b - 0xd9);
        cost += COST.string + length;
        skip(length);
        continue;
      }
      case 0xdc:
      case 0xdd:
        cost += COST.array;
        entries(readLength(b - 0xdc + 1));
        continue;
      case 0xde:
      case 0xdf:
        cost += COST.map;
        entries(2 * readLength(b - 0xde + 1));
        continue;
      default:
        malformed(`byte 0x${b.toString(16)} is not MessagePack`);
    }
  }
}
