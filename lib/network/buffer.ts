/**
 * Network buffers: batches of msgpackr-encoded records, laid end to end with no framing (a
 * MessagePack value knows its own length). A buffer is an ArrayBuffer owned by exactly one
 * party at a time, so that it can be transferred between worker threads without a copy.
 *
 * Each record is packed once into msgpackr's reusable scratch space (no allocation of ours),
 * then copied into the buffer of every channel it goes to; a broadcast record is packed once.
 */
import { Packr, Unpackr, REUSE_BUFFER_MODE, RESET_BUFFER_MODE } from 'msgpackr';

/** Flink's default network buffer size. */
export const DEFAULT_BUFFER_BYTES = 32 * 1024;

/** A filled buffer: bytes [0, length) of `data` hold the records. */
export interface NetworkBuffer {
  readonly data: ArrayBuffer;
  readonly length: number;
}

/** Packs one record at a time; the bytes stay valid until the next `pack`. */
export class RecordSerializer {
  private readonly packr = new Packr({ useRecords: false, moreTypes: false });
  /** msgpackr's scratch buffer holding the last record at [start, end). */
  target: Buffer = Buffer.alloc(0);
  start = 0;
  end = 0;

  pack(record: unknown): void {
    // REUSE: return the scratch buffer with start/end instead of a subarray per record.
    // RESET: rewind afterwards, so the scratch space stays small and hot in cache.
    const t = this.packr.pack(record, REUSE_BUFFER_MODE | RESET_BUFFER_MODE) as Buffer & { start: number; end: number };
    this.target = t;
    this.start = t.start;
    this.end = t.end;
  }

  get size(): number {
    return this.end - this.start;
  }
}

/** Fills one buffer; `take()` hands it over and the builder starts afresh. */
export class BufferBuilder {
  private data: ArrayBuffer;
  private bytes: Buffer;
  private position = 0;

  constructor(private readonly capacity: number = DEFAULT_BUFFER_BYTES) {
    this.data = new ArrayBuffer(capacity);
    this.bytes = Buffer.from(this.data);
  }

  get length(): number {
    return this.position;
  }

  get isEmpty(): boolean {
    return this.position === 0;
  }

  /** Room left for bytes. */
  get remaining(): number {
    return this.bytes.length - this.position;
  }

  /** Appends src[start, end); the caller made sure it fits (or the builder is empty). */
  append(src: Buffer, start: number, end: number): void {
    const size = end - start;
    if (size > this.remaining) {
      // Only ever for a single record larger than a buffer: the buffer grows to hold it.
      this.data = new ArrayBuffer(this.position + size);
      const grown = Buffer.from(this.data);
      this.bytes.copy(grown, 0, 0, this.position);
      this.bytes = grown;
    }
    src.copy(this.bytes, this.position, start, end);
    this.position += size;
  }

  /** The filled buffer; a mostly empty one (a flush on timeout) is trimmed so it holds no idle memory. */
  take(): NetworkBuffer {
    const length = this.position;
    const data = length < this.data.byteLength / 4 ? this.data.slice(0, length) : this.data;
    if (data === this.data) {
      this.data = new ArrayBuffer(this.capacity);
      this.bytes = Buffer.from(this.data);
    }
    this.position = 0;
    return { data, length };
  }
}

/** Reads the records of a buffer, calling `onRecord` for each; returns how many there were. */
export class RecordDeserializer {
  private readonly unpackr = new Unpackr({ useRecords: false, moreTypes: false });

  forEach(data: ArrayBuffer, length: number, onRecord: (record: unknown) => void): number {
    if (length === 0) return 0;
    let n = 0;
    this.unpackr.unpackMultiple(Buffer.from(data, 0, length), (value: unknown) => {
      n++;
      onRecord(value);
    });
    return n;
  }
}
