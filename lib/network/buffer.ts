/**
 * Network buffers: batches of msgpackr-encoded records, laid end to end with no framing (a
 * MessagePack value knows its own length). A buffer is an ArrayBuffer owned by exactly one
 * party at a time, so that it can be transferred between worker threads without a copy.
 *
 * A record for one channel is packed straight into that channel's buffer by a small encoder of
 * ours when it fits there and holds only common values; otherwise (and for a broadcast record,
 * packed once) it is packed into a reusable scratch space, by that encoder or by msgpackr, then
 * copied into the buffer of every channel it goes to. No allocation of ours per record.
 */
import { addExtension, Packr, Unpackr, REUSE_BUFFER_MODE, RESET_BUFFER_MODE } from 'msgpackr';
import { NO_TIMESTAMP } from '../dataflow/watermarks.js';

/**
 * Event time rides in the buffers, in order with the records: a record with a timestamp is
 * preceded by a MessagePack fixext 8 of type TIMESTAMP_EXT holding the timestamp (float64), and
 * a watermark or a channel's idle/active status is a fixext 8 element of its own. No user record
 * can take these forms: msgpackr writes no ext for plain data (`moreTypes: false`).
 */
const FIXEXT8 = 0xd7;
const TIMESTAMP_EXT = 0x10;
const WATERMARK_EXT = 0x11;
const IDLE_EXT = 0x12;
const ACTIVE_EXT = 0x13;

/** What a buffer carries besides records: a watermark, or a channel gone idle / active again. */
export const StreamEvent = { Watermark: 'watermark', Idle: 'idle', Active: 'active' } as const;
export type StreamEvent = (typeof StreamEvent)[keyof typeof StreamEvent];

/** Receives the watermarks and status changes of a buffer, in order with its records. */
export type StreamEventHandler = (event: StreamEvent, watermark: number) => void;

/** Set by msgpackr's decoding of our ext elements (the slow path), read right after. */
let decodedExtValue = 0;
const TIMESTAMP_MARK: unique symbol = Symbol('flinkish.timestamp');
const EVENT_MARKS = { [WATERMARK_EXT]: Symbol('flinkish.watermark'), [IDLE_EXT]: Symbol('flinkish.idle'), [ACTIVE_EXT]: Symbol('flinkish.active') } as const;
const EVENT_OF_MARK = new Map<symbol, StreamEvent>([
  [EVENT_MARKS[WATERMARK_EXT], StreamEvent.Watermark],
  [EVENT_MARKS[IDLE_EXT], StreamEvent.Idle],
  [EVENT_MARKS[ACTIVE_EXT], StreamEvent.Active],
]);
function readExtFloat(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getFloat64(0);
}
addExtension({ type: TIMESTAMP_EXT, unpack: (data: Uint8Array) => ((decodedExtValue = readExtFloat(data)), TIMESTAMP_MARK) } as never);
for (const type of [WATERMARK_EXT, IDLE_EXT, ACTIVE_EXT] as const) {
  addExtension({ type, unpack: (data: Uint8Array) => ((decodedExtValue = readExtFloat(data)), EVENT_MARKS[type]) } as never);
}
const EXT_OF_EVENT: Record<StreamEvent, number> = { watermark: WATERMARK_EXT, idle: IDLE_EXT, active: ACTIVE_EXT };

/** Flink's default network buffer size. */
export const DEFAULT_BUFFER_BYTES = 32 * 1024;

/** A filled buffer: bytes [0, length) of `data` hold the records. */
export interface NetworkBuffer {
  readonly data: ArrayBuffer;
  readonly length: number;
}

/** Scratch space of the fast encoder; a record that does not fit goes to msgpackr. */
const SCRATCH_BYTES = 64 * 1024;
/** Marks a value the fast encoder/decoder does not handle (msgpackr does). */
const UNSUPPORTED = -1;

/**
 * Packs one record at a time; the bytes stay valid until the next `pack`.
 *
 * The common records (numbers, booleans, null, ASCII strings and plain arrays of them) are
 * written by a small MessagePack encoder of ours that produces exactly msgpackr's bytes for
 * them; anything else (objects, non-ASCII text, undefined, ...) is packed by msgpackr.
 */
export class RecordSerializer {
  private readonly packr = new Packr({ useRecords: false, moreTypes: false });
  private readonly scratch: Buffer = Buffer.allocUnsafe(SCRATCH_BYTES);
  private readonly scratchView = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength);
  /** Where `write` writes: the scratch space, or (`packInto`) a network buffer directly. */
  private out: Buffer = this.scratch;
  private view: DataView = this.scratchView;
  /** The buffer holding the last record at [start, end). */
  target: Buffer = Buffer.alloc(0);
  start = 0;
  end = 0;

  pack(record: unknown): void {
    this.out = this.scratch;
    this.view = this.scratchView;
    const end = this.write(record, 0);
    if (end !== UNSUPPORTED) {
      this.target = this.scratch;
      this.start = 0;
      this.end = end;
      return;
    }
    // REUSE: return the scratch buffer with start/end instead of a subarray per record.
    // RESET: rewind afterwards, so the scratch space stays small and hot in cache.
    const t = this.packr.pack(record, REUSE_BUFFER_MODE | RESET_BUFFER_MODE) as Buffer & { start: number; end: number };
    this.target = t;
    this.start = t.start;
    this.end = t.end;
  }

  /** Packs `record` behind its timestamp (see TIMESTAMP_EXT). */
  packTimestamped(record: unknown, timestamp: number): void {
    const b = this.scratch;
    this.out = b;
    this.view = this.scratchView;
    b[0] = FIXEXT8;
    b[1] = TIMESTAMP_EXT;
    this.view.setFloat64(2, timestamp);
    const end = this.write(record, 10);
    if (end !== UNSUPPORTED) {
      this.target = b;
      this.start = 0;
      this.end = end;
      return;
    }
    const t = this.packr.pack(record, REUSE_BUFFER_MODE | RESET_BUFFER_MODE) as Buffer & { start: number; end: number };
    const size = t.end - t.start;
    const into = size + 10 <= b.length ? b : Buffer.allocUnsafe(size + 10);
    if (into !== b) b.copy(into, 0, 0, 10);
    t.copy(into, 10, t.start, t.end);
    this.target = into;
    this.start = 0;
    this.end = size + 10;
  }

  /** Packs a watermark or a status change (an element of its own, not a record). */
  packEvent(event: StreamEvent, watermark: number): void {
    const b = this.scratch;
    b[0] = FIXEXT8;
    b[1] = EXT_OF_EVENT[event];
    this.scratchView.setFloat64(2, watermark);
    this.target = b;
    this.start = 0;
    this.end = 10;
  }

  get size(): number {
    return this.end - this.start;
  }

  /**
   * Writes `record` (behind its timestamp, unless NO_TIMESTAMP) straight into `into` at `pos`,
   * no further than `into`'s end: the position after it, or UNSUPPORTED when it does not fit or
   * holds a value only msgpackr packs (the bytes past `pos` are then garbage; the caller packs
   * the record with `pack` instead). Spares the copy from the scratch space for most records.
   */
  packInto(record: unknown, timestamp: number, into: Buffer, view: DataView, pos: number): number {
    this.out = into;
    this.view = view;
    if (timestamp !== NO_TIMESTAMP) {
      if (pos + 10 > into.length) return UNSUPPORTED;
      into[pos] = FIXEXT8;
      into[pos + 1] = TIMESTAMP_EXT;
      view.setFloat64(pos + 2, timestamp);
      pos += 10;
    }
    return this.write(record, pos);
  }

  /** Writes `value` at `pos` of `out`; the position after it, or UNSUPPORTED. */
  private write(value: unknown, pos: number): number {
    const b = this.out;
    if (pos + 9 > b.length) return UNSUPPORTED;
    switch (typeof value) {
      case 'number': {
        const v = value;
        if (v >>> 0 === v) {
          if (v < 0x80) {
            b[pos] = v;
            return pos + 1;
          }
          if (v < 0x100) {
            b[pos] = 0xcc;
            b[pos + 1] = v;
            return pos + 2;
          }
          if (v < 0x10000) {
            b[pos] = 0xcd;
            b[pos + 1] = v >> 8;
            b[pos + 2] = v & 0xff;
            return pos + 3;
          }
          b[pos] = 0xce;
          this.view.setUint32(pos + 1, v);
          return pos + 5;
        }
        if (v >> 0 === v) {
          if (v >= -0x20) {
            b[pos] = 0x100 + v;
            return pos + 1;
          }
          if (v >= -0x80) {
            b[pos] = 0xd0;
            b[pos + 1] = v + 0x100;
            return pos + 2;
          }
          if (v >= -0x8000) {
            b[pos] = 0xd1;
            this.view.setInt16(pos + 1, v);
            return pos + 3;
          }
          b[pos] = 0xd2;
          this.view.setInt32(pos + 1, v);
          return pos + 5;
        }
        b[pos] = 0xcb;
        this.view.setFloat64(pos + 1, v);
        return pos + 9;
      }
      case 'string': {
        const length = value.length;
        if (length >= 0x10000 || pos + 3 + length > b.length) return UNSUPPORTED;
        let at: number;
        if (length < 0x20) {
          b[pos] = 0xa0 | length;
          at = pos + 1;
        } else if (length < 0x100) {
          b[pos] = 0xd9;
          b[pos + 1] = length;
          at = pos + 2;
        } else {
          b[pos] = 0xda;
          b[pos + 1] = length >> 8;
          b[pos + 2] = length & 0xff;
          at = pos + 3;
        }
        for (let i = 0; i < length; i++) {
          const c = value.charCodeAt(i);
          if (c >= 0x80) return UNSUPPORTED; // UTF-8 (and lone surrogates) as msgpackr writes them
          b[at + i] = c;
        }
        return at + length;
      }
      case 'boolean':
        b[pos] = value ? 0xc3 : 0xc2;
        return pos + 1;
      case 'object': {
        if (value === null) {
          b[pos] = 0xc0;
          return pos + 1;
        }
        if (!Array.isArray(value) || value.constructor !== Array) return UNSUPPORTED;
        const length = value.length;
        let at: number;
        if (length < 0x10) {
          b[pos] = 0x90 | length;
          at = pos + 1;
        } else if (length < 0x10000) {
          b[pos] = 0xdc;
          b[pos + 1] = length >> 8;
          b[pos + 2] = length & 0xff;
          at = pos + 3;
        } else {
          return UNSUPPORTED;
        }
        for (let i = 0; i < length; i++) {
          at = this.write(value[i], at);
          if (at === UNSUPPORTED) return UNSUPPORTED;
        }
        return at;
      }
      default:
        return UNSUPPORTED;
    }
  }
}

/** Fills one buffer; `take()` hands it over and the builder starts afresh. */
export class BufferBuilder {
  private data: ArrayBuffer;
  private bytes: Buffer;
  private position = 0;

  private view: DataView;

  constructor(private readonly capacity: number = DEFAULT_BUFFER_BYTES) {
    this.data = new ArrayBuffer(capacity);
    this.bytes = Buffer.from(this.data);
    this.view = new DataView(this.data);
  }

  /** Packs `record` right into the buffer if it fits there and the fast encoder takes it; false otherwise (nothing appended). */
  tryPack(serializer: RecordSerializer, record: unknown, timestamp: number): boolean {
    const end = serializer.packInto(record, timestamp, this.bytes, this.view, this.position);
    if (end === UNSUPPORTED) return false;
    this.position = end;
    return true;
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
      this.view = new DataView(this.data);
    }
    if (size <= 32) {
      // A native copy costs more than a short loop for the typical small record.
      const dst = this.bytes;
      let at = this.position;
      for (let i = start; i < end; i++) dst[at++] = src[i] as number;
    } else {
      src.copy(this.bytes, this.position, start, end);
    }
    this.position += size;
  }

  /** The filled buffer; a mostly empty one (a flush on timeout) is trimmed so it holds no idle memory. */
  take(): NetworkBuffer {
    const length = this.position;
    const data = length < this.data.byteLength / 4 ? this.data.slice(0, length) : this.data;
    if (data === this.data) {
      this.data = new ArrayBuffer(this.capacity);
      this.bytes = Buffer.from(this.data);
      this.view = new DataView(this.data);
    }
    this.position = 0;
    return { data, length };
  }
}

/** Thrown inside the fast decoder for a value it does not handle: msgpackr takes over from that record. */
const FALLBACK: unique symbol = Symbol('fallback');


/**
 * Reads the records of a buffer, calling `onRecord` for each (with its timestamp, or
 * NO_TIMESTAMP) and `onEvent` for watermarks and status changes; returns how many records there
 * were. The values the fast encoder writes are decoded here directly; at the first record with
 * anything else, msgpackr decodes the rest of the buffer.
 */
export class RecordDeserializer {
  private readonly unpackr = new Unpackr({ useRecords: false, moreTypes: false });
  private bytes: Buffer = Buffer.alloc(0);
  private view: DataView = new DataView(new ArrayBuffer(0));
  private pos = 0;
  private limit = 0;

  forEach(data: ArrayBuffer, length: number, onRecord: (record: unknown, timestamp: number) => void, onEvent?: StreamEventHandler): number {
    if (length === 0) return 0;
    const bytes = Buffer.from(data, 0, length);
    this.bytes = bytes;
    this.view = new DataView(data, 0, length);
    this.limit = length;
    this.pos = 0;
    let n = 0;
    while (this.pos < length) {
      const start = this.pos;
      let timestamp = NO_TIMESTAMP;
      let value: unknown;
      try {
        if (bytes[start] === FIXEXT8 && start + 10 <= length) {
          const type = bytes[start + 1];
          if (type === TIMESTAMP_EXT) {
            timestamp = this.view.getFloat64(start + 2);
            this.pos = start + 10;
          } else if (type === WATERMARK_EXT || type === IDLE_EXT || type === ACTIVE_EXT) {
            this.pos = start + 10;
            onEvent?.(type === WATERMARK_EXT ? StreamEvent.Watermark : type === IDLE_EXT ? StreamEvent.Idle : StreamEvent.Active, this.view.getFloat64(start + 2));
            continue;
          }
        }
        value = this.read();
      } catch (err) {
        if (err !== FALLBACK) throw err;
        this.bytes = Buffer.alloc(0);
        // msgpackr decodes our ext elements to marks (see addExtension above), the record after a timestamp mark gets it.
        let pending = NO_TIMESTAMP;
        this.unpackr.unpackMultiple(bytes.subarray(start), (v: unknown) => {
          if (v === TIMESTAMP_MARK) {
            pending = decodedExtValue;
            return;
          }
          const event = typeof v === 'symbol' ? EVENT_OF_MARK.get(v) : undefined;
          if (event !== undefined) {
            onEvent?.(event, decodedExtValue);
            return;
          }
          n++;
          const ts = pending;
          pending = NO_TIMESTAMP;
          onRecord(v, ts);
        });
        return n;
      }
      n++;
      onRecord(value, timestamp);
    }
    this.bytes = Buffer.alloc(0);
    return n;
  }

  private read(): unknown {
    const b = this.bytes;
    let pos = this.pos;
    if (pos >= this.limit) throw FALLBACK; // truncated: let msgpackr report it
    const type = b[pos++] as number;
    if (type < 0x80) {
      this.pos = pos;
      return type;
    }
    if (type >= 0xe0) {
      this.pos = pos;
      return type - 0x100;
    }
    if ((type & 0xe0) === 0xa0) return this.readAscii(pos, type & 0x1f);
    if ((type & 0xf0) === 0x90) {
      this.pos = pos;
      return this.readArray(type & 0x0f);
    }
    if (pos + 8 > this.limit) throw FALLBACK;
    switch (type) {
      case 0xc0:
        this.pos = pos;
        return null;
      case 0xc2:
        this.pos = pos;
        return false;
      case 0xc3:
        this.pos = pos;
        return true;
      case 0xcc:
        this.pos = pos + 1;
        return b[pos];
      case 0xcd:
        this.pos = pos + 2;
        return this.view.getUint16(pos);
      case 0xce:
        this.pos = pos + 4;
        return this.view.getUint32(pos);
      case 0xd0:
        this.pos = pos + 1;
        return this.view.getInt8(pos);
      case 0xd1:
        this.pos = pos + 2;
        return this.view.getInt16(pos);
      case 0xd2:
        this.pos = pos + 4;
        return this.view.getInt32(pos);
      case 0xcb:
        this.pos = pos + 8;
        return this.view.getFloat64(pos);
      case 0xd9:
        return this.readAscii(pos + 1, b[pos] as number);
      case 0xda:
        return this.readAscii(pos + 2, this.view.getUint16(pos));
      case 0xdc:
        this.pos = pos + 2;
        return this.readArray(this.view.getUint16(pos));
      default:
        throw FALLBACK;
    }
  }

  private readArray(length: number): unknown[] {
    const out = new Array<unknown>(length);
    for (let i = 0; i < length; i++) out[i] = this.read();
    return out;
  }

  private readAscii(start: number, length: number): string {
    const b = this.bytes;
    const end = start + length;
    if (end > this.limit) throw FALLBACK;
    for (let i = start; i < end; i++) if ((b[i] as number) >= 0x80) throw FALLBACK; // UTF-8: msgpackr's decoding
    this.pos = end;
    switch (length) {
      case 0:
        return '';
      case 1:
        return String.fromCharCode(b[start] as number);
      case 2:
        return String.fromCharCode(b[start] as number, b[start + 1] as number);
      case 3:
        return String.fromCharCode(b[start] as number, b[start + 1] as number, b[start + 2] as number);
      case 4:
        return String.fromCharCode(b[start] as number, b[start + 1] as number, b[start + 2] as number, b[start + 3] as number);
      default:
        return b.toString('latin1', start, end);
    }
  }
}
