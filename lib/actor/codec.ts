/**
 * The wire codec of an actor system: msgpackr, plus an extension that carries ActorRefs as
 * `[node, name]` and binds them, on decode, to the system that receives them.
 */
import { Packr, addExtension } from 'msgpackr';
import type { WireCodec } from '../transport/connection.js';
import { ActorRef } from './ref.js';
import { NOT_COMMON, decodeCommon } from './fast-decode.js';

/** The router decoding right now. Decoding is synchronous, so one slot is enough. */
let decodingFor: ((node: string, name: string) => ActorRef<unknown>) | null = null;

const ACTOR_REF_EXTENSION = 0x41;

addExtension({
  Class: ActorRef,
  type: ACTOR_REF_EXTENSION,
  write: (ref: ActorRef<unknown>) => [ref.node, ref.name],
  read: (data: unknown) => {
    if (!Array.isArray(data) || typeof data[0] !== 'string' || typeof data[1] !== 'string' || !decodingFor) {
      throw new Error('malformed actor reference');
    }
    return decodingFor(data[0], data[1]);
  },
});

export function createWireCodec(resolve: (node: string, name: string) => ActorRef<unknown>): WireCodec {
  const packr = new Packr({ useRecords: false });
  /** Reused for every decode: unpacking is synchronous, and msgpackr only reads it. */
  const span = { start: 0, end: 0 };
  return {
    encode: (value) => packr.pack(value),
    decode: (bytes, start = 0, end = bytes.length) => {
      // Most frames (tells of plain messages) need no msgpackr: see fast-decode.ts.
      const common = decodeCommon(bytes, start, end);
      if (common !== NOT_COMMON) return common;
      const previous = decodingFor;
      decodingFor = resolve;
      span.start = start;
      span.end = end;
      try {
        return packr.unpack(bytes, span);
      } finally {
        decodingFor = previous;
      }
    },
  };
}
