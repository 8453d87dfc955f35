/**
 * Sources as split readers. A source is cut into a fixed number of splits, its operator's
 * max parallelism (like keyed state into key groups): a sequence into contiguous ranges, a
 * generator or a collection into partitions (index i belongs to split i mod splits), a text
 * file by line number the same way. Each subtask reads the splits that its index and
 * parallelism give (OwnedSplits), so subtasks need no coordination; and because
 * a checkpoint records how far every split was read, a restore at another parallelism hands
 * each split, with its position, to the subtask that owns it now: sources rescale.
 *
 * Readers are synchronous and pull-based: the task loop asks for one record at a time and can
 * stop between any two (for barriers, or when the network has no credit), and `read()` returns
 * a sentinel rather than an iterator result so that no object is allocated per record.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { SourceSpec } from './description.js';
import type { GeneratorFunction } from './functions.js';
import { keyGroupRangeFor } from './keygroups.js';

/** Returned by `SourceReader.read()` when the splits are exhausted. */
export const END_OF_INPUT: unique symbol = Symbol('flinkish.endOfInput');
export type EndOfInput = typeof END_OF_INPUT;

/** Which part of a source one subtask reads: its index among `parallelism`, over `splits` splits. */
export interface SourceSplit {
  readonly index: number;
  readonly parallelism: number;
  /** How many splits the source has (its operator's max parallelism); the same across restores. */
  readonly splits: number;
}

/** Records read per split, by split number (absent: none). What a checkpoint stores of a source. */
export type SplitPositions = Readonly<Record<string, number>>;

export interface SourceReader<T> {
  /** The next record of this subtask's splits, or END_OF_INPUT. */
  read(): T | EndOfInput;
  /** How many records of each of its splits have been read (including restored positions). */
  positions(): Record<string, number>;
  /** Releases files; reading after close returns END_OF_INPUT. */
  close(): void;
}

/** A source as held in the stream graph: its plain description and how to read a subtask's splits. */
export interface SourceFunction<T> {
  readonly spec: SourceSpec;
  /** Opens a reader of the subtask's splits, each resumed after the records `restored` says were read. */
  createReader(split: SourceSplit, restored?: SplitPositions): SourceReader<T>;
}

/**
 * The splits a subtask owns, ascending, and how far each was read. Partitioned sources deal
 * their splits round-robin (split k to subtask k mod parallelism: index i of a small collection
 * lands where i mod parallelism says, as before splits); sequences give each subtask a
 * contiguous range, so that it emits one ascending run.
 */
class OwnedSplits {
  readonly ids: Int32Array;
  /** Records read per owned split, by slot (the split is ids[slot]). */
  readonly read: Float64Array;

  constructor(split: SourceSplit, restored: SplitPositions | undefined, assignment: 'round-robin' | 'range') {
    const { index, parallelism, splits } = split;
    const ids: number[] = [];
    if (assignment === 'range') {
      const range = keyGroupRangeFor(splits, parallelism, index);
      for (let k = range.start; k <= range.end; k++) ids.push(k);
    } else {
      for (let k = index; k < splits; k += parallelism) ids.push(k);
    }
    this.ids = Int32Array.from(ids);
    this.read = new Float64Array(ids.length);
    for (let slot = 0; slot < ids.length; slot++) this.read[slot] = Math.max(0, Number(restored?.[String(ids[slot])] ?? 0)) || 0;
  }

  get count(): number {
    return this.ids.length;
  }

  positions(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let slot = 0; slot < this.ids.length; slot++) if ((this.read[slot] as number) > 0) out[String(this.ids[slot])] = this.read[slot] as number;
    return out;
  }
}

/**
 * Reads index `split + round * splits` of each owned split, round by round, up to `total`
 * indices (or forever): a subtask emits its indices in ascending order, and each split
 * resumes after its own restored position.
 */
class PartitionedReader<T> implements SourceReader<T> {
  private readonly owned: OwnedSplits;
  private round: number;
  private at = 0;
  private done = false;

  constructor(
    split: SourceSplit,
    restored: SplitPositions | undefined,
    private readonly total: number,
    private readonly item: (i: number) => T,
  ) {
    this.owned = new OwnedSplits(split, restored, 'round-robin');
    this.splits = split.splits;
    this.round = this.owned.count === 0 ? 0 : Math.min(...this.owned.read);
    this.done = this.owned.count === 0;
  }

  private readonly splits: number;

  read(): T | EndOfInput {
    const owned = this.owned;
    while (!this.done) {
      if (this.at >= owned.count) {
        this.at = 0;
        this.round++;
      }
      const slot = this.at++;
      const i = (owned.ids[slot] as number) + this.round * this.splits;
      if (i >= this.total) {
        // Later splits of this round, and every later round, are past the end too.
        if (slot === 0) this.done = true;
        this.at = owned.count;
        continue;
      }
      if ((owned.read[slot] as number) > this.round) continue; // read before the restore
      owned.read[slot] = this.round + 1;
      return this.item(i);
    }
    return END_OF_INPUT;
  }

  positions(): Record<string, number> {
    return this.owned.positions();
  }

  close(): void {
    this.done = true;
  }
}

/**
 * `from..to` inclusive, cut into contiguous ranges as Flink's NumberSequenceSource does; a
 * subtask reads its splits one after the other, so it emits an ascending run of numbers.
 */
export function sequenceSource(from: number, to: number): SourceFunction<number> {
  const total = Math.max(0, to - from + 1);
  return {
    spec: { kind: 'sequence', from, to },
    createReader(split, restored) {
      return new SequenceReader(split, restored, from, total);
    },
  };
}

class SequenceReader implements SourceReader<number> {
  private readonly owned: OwnedSplits;
  private slot = 0;
  private next = 0;
  private end = 0;

  constructor(
    private readonly split: SourceSplit,
    restored: SplitPositions | undefined,
    private readonly from: number,
    private readonly total: number,
  ) {
    this.owned = new OwnedSplits(split, restored, 'range');
    this.enter(0);
  }

  /** Split `ids[slot]`: [start, end) of the sequence's offsets, resumed after its position. */
  private enter(slot: number): void {
    this.slot = slot;
    if (slot >= this.owned.count) return;
    const k = this.owned.ids[slot] as number;
    const start = Math.floor((k * this.total) / this.split.splits);
    this.end = Math.floor(((k + 1) * this.total) / this.split.splits);
    this.next = Math.min(this.end, start + (this.owned.read[slot] as number));
  }

  read(): number | EndOfInput {
    while (this.slot < this.owned.count) {
      if (this.next < this.end) {
        this.owned.read[this.slot] = (this.owned.read[this.slot] as number) + 1;
        return this.from + this.next++;
      }
      this.enter(this.slot + 1);
    }
    return END_OF_INPUT;
  }

  positions(): Record<string, number> {
    return this.owned.positions();
  }

  close(): void {
    this.slot = this.owned.count;
  }
}

/** The items of a collection; item i belongs to split i mod splits. */
export function collectionSource<T>(items: readonly T[]): SourceFunction<T> {
  return {
    spec: { kind: 'collection', size: items.length },
    createReader(split, restored) {
      return new PartitionedReader(split, restored, items.length, (i) => items[i] as T);
    },
  };
}

/** fn(i) for i = 0 .. count-1, or forever without a count; index i belongs to split i mod splits. */
export function generatorSource<T>(fn: GeneratorFunction<T>, count?: number): SourceFunction<T> {
  return {
    spec: { kind: 'generator', count: count ?? null },
    createReader(split, restored) {
      return new PartitionedReader(split, restored, count ?? Number.POSITIVE_INFINITY, fn);
    },
  };
}

const CHUNK_BYTES = 64 * 1024;

/**
 * Lines of a UTF-8 text file; line l belongs to split l mod splits, and a subtask keeps the
 * lines of its splits. Every subtask scans the whole file, which keeps splits trivially
 * consistent for any parallelism. Lines end at '\n' (a trailing '\r' is dropped); a last line
 * without '\n' counts when it is not empty.
 */
class TextLineReader implements SourceReader<string> {
  private fd: number | undefined;
  private readonly decoder = new StringDecoder('utf8');
  private readonly buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  private pending: string[] = [];
  private pendingAt = 0;
  private partial = '';
  private lineNumber = 0;
  private eof = false;
  private readonly owned: OwnedSplits;
  /** Lines of each owned split seen in this scan; those up to the restored position are skipped. */
  private readonly seen: Float64Array;

  constructor(
    path: string,
    private readonly split: SourceSplit,
    restored: SplitPositions | undefined,
  ) {
    this.owned = new OwnedSplits(split, restored, 'round-robin');
    this.seen = new Float64Array(this.owned.count);
    this.fd = openSync(path, 'r');
  }

  read(): string | EndOfInput {
    for (;;) {
      const line = this.nextLine();
      if (line === END_OF_INPUT) return END_OF_INPUT;
      const k = this.lineNumber++ % this.split.splits;
      if (k % this.split.parallelism !== this.split.index) continue;
      const slot = (k - this.split.index) / this.split.parallelism;
      const seen = (this.seen[slot] as number) + 1;
      this.seen[slot] = seen;
      if (seen <= (this.owned.read[slot] as number)) continue;
      this.owned.read[slot] = seen;
      return line;
    }
  }

  positions(): Record<string, number> {
    return this.owned.positions();
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
    createReader(split, restored) {
      return new TextLineReader(path, split, restored);
    },
  };
}
