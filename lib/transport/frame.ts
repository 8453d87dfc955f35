/**
 * Length-prefixed framing: each frame is a 4-byte big-endian length followed by that many
 * bytes of MessagePack. The decoder is a streaming parser that rejects a frame whose length
 * exceeds the limit before buffering it, so that a bad peer cannot make us allocate.
 */
import { ErrorCode, RuntimeError } from '../errors.js';

export const FRAME_HEADER_BYTES = 4;

/** Batches up to this size are copied out of the batch buffer rather than handed over. */
const SMALL_BATCH_BYTES = 16 * 1024;

export class FrameError extends RuntimeError {
  override name = 'FrameError';
}

/** Where the decoder gets the buffer of a frame that spans chunks (an observer can count them). */
export type FrameAllocator = (bytes: number) => Buffer;

/**
 * Assembly is linear in the bytes received: a frame that lies within one chunk is handed over as
 * a view of it; a frame that spans chunks gets one buffer of its announced length (checked
 * against the limit first) into which every byte is copied exactly once.
 */
export class FrameDecoder {
  /** A length prefix split across chunks. */
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  /** The frame being assembled across chunks, and how much of it has arrived. */
  private partial: Buffer | null = null;
  private partialFilled = 0;

  constructor(
    private maxFrameBytes: number,
    private readonly allocate: FrameAllocator = (bytes) => Buffer.allocUnsafe(bytes),
  ) {}

  /** Set a new limit (the handshake runs with a small one, an open connection with the configured one). */
  setMaxFrameBytes(limit: number): void {
    this.maxFrameBytes = limit;
  }

  /** Feed bytes; calls `onFrame` for every complete frame. Throws FrameError on an oversized frame. */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    this.pushSpans(chunk, (source, start, end) => onFrame(start === 0 && end === source.length ? source : source.subarray(start, end)));
  }

  /**
   * As `push`, but a frame is handed over as `source[start, end)` rather than as a view of its
   * own: the hot receive path decodes at an offset, and a Buffer view per frame (with the
   * DataView msgpackr attaches to every new source) cost more than the rest of the framing.
   */
  pushSpans(chunk: Buffer, onFrame: (source: Buffer, start: number, end: number) => void): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.partial) {
        const take = Math.min(this.partial.length - this.partialFilled, chunk.length - offset);
        chunk.copy(this.partial, this.partialFilled, offset, offset + take);
        this.partialFilled += take;
        offset += take;
        if (this.partialFilled < this.partial.length) return;
        const frame = this.partial;
        this.partial = null;
        this.partialFilled = 0;
        onFrame(frame, 0, frame.length);
        continue;
      }
      let length: number;
      if (this.headerFilled === 0 && chunk.length - offset >= FRAME_HEADER_BYTES) {
        length = chunk.readUInt32BE(offset);
        offset += FRAME_HEADER_BYTES;
      } else {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunk.length - offset);
        chunk.copy(this.header, this.headerFilled, offset, offset + take);
        this.headerFilled += take;
        offset += take;
        if (this.headerFilled < FRAME_HEADER_BYTES) return;
        this.headerFilled = 0;
        length = this.header.readUInt32BE(0);
      }
      this.checkLength(length);
      if (chunk.length - offset >= length) {
        offset += length;
        onFrame(chunk, offset - length, offset);
      } else {
        this.partial = this.allocate(length);
        this.partialFilled = 0;
      }
    }
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.headerFilled + this.partialFilled;
  }

  private checkLength(length: number): void {
    if (length > this.maxFrameBytes) {
      throw new FrameError(ErrorCode.FrameTooLarge, `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`, {
        details: { length, limit: this.maxFrameBytes },
      });
    }
    if (length === 0) throw new FrameError(ErrorCode.ProtocolViolation, 'empty frame');
  }
}

/**
 * Accumulates encoded frames into one buffer, so that many small messages go to the socket in
 * one write. The caller decides when to `take()` the batch.
 */
export class FrameBatch {
  private buf: Buffer;
  private length = 0;

  constructor(private readonly initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  get size(): number {
    return this.length;
  }

  /** Append one frame whose payload is `payload` (copied). */
  append(payload: Uint8Array): void {
    const needed = this.length + FRAME_HEADER_BYTES + payload.length;
    if (needed > this.buf.length) this.grow(needed);
    this.buf.writeUInt32BE(payload.length, this.length);
    this.buf.set(payload, this.length + FRAME_HEADER_BYTES);
    this.length = needed;
  }

  /**
   * Hand over the batch. A small batch is copied out and the buffer kept for the next one: a
   * fresh 64 KiB buffer per flush would make every ping-pong allocate external memory, which
   * drives the garbage collector far more than the bytes justify. A large batch is handed over
   * as it is (no copy) and a new buffer started.
   */
  take(): Buffer {
    if (this.length <= SMALL_BATCH_BYTES) {
      const out = Buffer.allocUnsafe(this.length);
      this.buf.copy(out, 0, 0, this.length);
      this.length = 0;
      return out;
    }
    const out = this.buf.subarray(0, this.length);
    this.buf = Buffer.allocUnsafe(Math.max(this.initialBytes, Math.min(this.buf.length, 1024 * 1024)));
    this.length = 0;
    return out;
  }

  private grow(needed: number): void {
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
}

/** One standalone frame (for the handshake and tests). */
export function encodeFrame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}
