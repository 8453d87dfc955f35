/**
 * Sources as split readers. Each subtask of a source reads its own split, chosen from its
 * index and the source's parallelism only, so that subtasks need no coordination. A reader
 * counts what it has emitted (its position); a restored subtask starts from the position a
 * checkpoint recorded, which makes sources replayable.
 *
 * Readers are synchronous and pull-based: the task loop asks for one record at a time and can
 * stop between any two (for barriers, or when the network has no credit), and `read()` returns
 * a sentinel rather than an iterator result so that no object is allocated per record.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { SourceSpec } from './description.js';
import type { GeneratorFunction } from './functions.js';

/** Returned by `SourceReader.read()` when the split is exhausted. */
export const END_OF_INPUT: unique symbol = Symbol('flinkish.endOfInput');
export type EndOfInput = typeof END_OF_INPUT;

/** Which part of a source one subtask reads. */
export interface SourceSplit {
  readonly index: number;
  readonly parallelism: number;
}

export interface SourceReader<T> {
  /** The next record of this split, or END_OF_INPUT. */
  read(): T | EndOfInput;
  /** How many records of this split have been read (including a restored offset). */
  position(): number;
  /** Releases files; reading after close returns END_OF_INPUT. */
  close(): void;
}

/** A source as held in the stream graph: its plain description and how to read a split. */
export interface SourceFunction<T> {
  readonly spec: SourceSpec;
  /** Opens a reader for a split that skips the first `offset` records of the split. */
  createReader(split: SourceSplit, offset: number): SourceReader<T>;
}

/** Reads `sequence[i]` for i = offset, offset+1, ... of a split that has `length` records. */
class IndexedReader<T> implements SourceReader<T> {
  private next: number;
  constructor(
    private readonly length: number,
    private readonly at: (i: number) => T,
    offset: number,
  ) {
    this.next = Math.min(offset, length);
  }
  read(): T | EndOfInput {
    if (this.next >= this.length) return END_OF_INPUT;
    return this.at(this.next++);
  }
  position(): number {
    return this.next;
  }
  close(): void {
    this.next = this.length;
  }
}

/**
 * `from..to` inclusive, split into contiguous ranges as Flink's NumberSequenceSource does, so
 * each subtask emits an ordered run of numbers.
 */
export function sequenceSource(from: number, to: number): SourceFunction<number> {
  const total = Math.max(0, to - from + 1);
  return {
    spec: { kind: 'sequence', from, to },
    createReader({ index, parallelism }, offset) {
      const start = Math.floor((index * total) / parallelism);
      const end = Math.floor(((index + 1) * total) / parallelism);
      return new IndexedReader(end - start, (i) => from + start + i, offset);
    },
  };
}

/** Items index, index+p, index+2p... of the collection (round-robin over subtasks). */
export function collectionSource<T>(items: readonly T[]): SourceFunction<T> {
  return {
    spec: { kind: 'collection', size: items.length },
    createReader({ index, parallelism }, offset) {
      const length = Math.max(0, Math.ceil((items.length - index) / parallelism));
      return new IndexedReader(length, (i) => items[index + i * parallelism] as T, offset);
    },
  };
}

/** fn(index), fn(index+p)... up to `count` records in total, or forever without a count. */
export function generatorSource<T>(fn: GeneratorFunction<T>, count?: number): SourceFunction<T> {
  return {
    spec: { kind: 'generator', count: count ?? null },
    createReader({ index, parallelism }, offset) {
      const length = count === undefined ? Number.POSITIVE_INFINITY : Math.max(0, Math.ceil((count - index) / parallelism));
      return new IndexedReader(length, (i) => fn(index + i * parallelism), offset);
    },
  };
}

const CHUNK_BYTES = 64 * 1024;

/**
 * Lines of a UTF-8 text file; subtask i keeps lines i, i+p, ... Every subtask scans the whole
 * file, which keeps splits trivially consistent for any parallelism. Lines end at '\n' (a
 * trailing '\r' is dropped); a last line without '\n' counts when it is not empty.
 */
class TextLineReader implements SourceReader<string> {
  private fd: number | undefined;
  private readonly decoder = new StringDecoder('utf8');
  private readonly buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  private pending: string[] = [];
  private pendingAt = 0;
  private partial = '';
  private lineNumber = 0;
  private emitted = 0;
  private eof = false;

  constructor(
    path: string,
    private readonly split: SourceSplit,
    private readonly offset: number,
  ) {
    this.fd = openSync(path, 'r');
  }

  read(): string | EndOfInput {
    for (;;) {
      const line = this.nextLine();
      if (line === END_OF_INPUT) return END_OF_INPUT;
      const mine = this.lineNumber++ % this.split.parallelism === this.split.index;
      if (!mine) continue;
      this.emitted++;
      if (this.emitted <= this.offset) continue;
      return line;
    }
  }

  position(): number {
    return Math.max(this.emitted, this.offset);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.eof = true;
    this.pending = [];
    this.partial = '';
  }

  private nextLine(): string | EndOfInput {
    while (this.pendingAt >= this.pending.length) {
      if (this.eof) return END_OF_INPUT;
      this.fill();
    }
    return this.pending[this.pendingAt++] as string;
  }

  private fill(): void {
    this.pending = [];
    this.pendingAt = 0;
    const n = this.fd === undefined ? 0 : readSync(this.fd, this.buffer, 0, CHUNK_BYTES, null);
    let text: string;
    if (n === 0) {
      text = this.partial + this.decoder.end();
      this.partial = '';
      this.close();
      if (text.length > 0) this.pending.push(stripCr(text));
      return;
    }
    text = this.partial + this.decoder.write(this.buffer.subarray(0, n));
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const part of parts) this.pending.push(stripCr(part));
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

export function textFileSource(path: string): SourceFunction<string> {
  return {
    spec: { kind: 'textFile', path },
    createReader(split, offset) {
      return new TextLineReader(path, split, offset);
    },
  };
}
