import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { collectionSource, END_OF_INPUT, generatorSource, sequenceSource, textFileSource, type SourceFunction, type SplitPositions } from '../../../lib/dataflow/sources.js';

const SPLITS = 128;

/** Reads up to `limit` records of every subtask at `parallelism`, resumed from `restored`; returns what was read and the positions. */
function readAll<T>(source: SourceFunction<T>, parallelism: number, restored: SplitPositions | undefined, limit = Number.POSITIVE_INFINITY) {
  const records: T[][] = [];
  const positions: Record<string, number> = {};
  for (let index = 0; index < parallelism; index++) {
    const reader = source.createReader({ index, parallelism, splits: SPLITS }, restored);
    const mine: T[] = [];
    for (let r = reader.read(); r !== END_OF_INPUT; r = mine.length < limit ? reader.read() : END_OF_INPUT) mine.push(r);
    for (const [split, read] of Object.entries(reader.positions())) {
      assert.equal(positions[split], undefined, `split ${split} is read by one subtask only`);
      positions[split] = read;
    }
    reader.close();
    records.push(mine);
  }
  return { records, positions };
}

/** A checkpoint at p=2 after `limit` records per subtask, restored at p=3: every record exactly once. */
function checkRescale<T>(source: SourceFunction<T>, expected: T[], limit: number): void {
  const before = readAll(source, 2, undefined, limit);
  const after = readAll(source, 3, before.positions);
  const all = [...before.records.flat(), ...after.records.flat()];
  assert.deepEqual([...all].sort(), [...expected].sort());
  assert.ok(before.records.every((r) => r.length === limit), 'each old subtask was cut mid-way');
}

describe('dataflow - split sources', () => {
  it('split sources - sequences rescale p=2 -> p=3 with every number once, each subtask an ascending run', () => {
    const expected = Array.from({ length: 1000 }, (_, i) => i + 5);
    checkRescale(sequenceSource(5, 1004), expected, 200);
    for (const run of readAll(sequenceSource(5, 1004), 3, undefined).records) assert.deepEqual(run, [...run].sort((a, b) => a - b));
  });

  it('split sources - generators and collections rescale p=2 -> p=3, each subtask in ascending index order', () => {
    const expected = Array.from({ length: 1000 }, (_, i) => `g${i}`);
    checkRescale(generatorSource((i) => `g${i}`, 1000), expected, 150);
    checkRescale(collectionSource(expected), expected, 333);
    const indices = readAll(generatorSource((i) => i, 1000), 3, undefined).records;
    for (const run of indices) assert.deepEqual(run, [...run].sort((a, b) => a - b));
    // Restored again at p=3 after p=3 (positions differ split to split): still ascending.
    const cut = readAll(generatorSource((i) => i, 1000), 3, undefined, 100);
    for (const run of readAll(generatorSource((i) => i, 1000), 2, cut.positions).records) assert.deepEqual(run, [...run].sort((a, b) => a - b));
  });

  it('split sources - an unbounded generator reads every split of a subtask, round by round', () => {
    const { records } = readAll(generatorSource((i) => i), 2, undefined, 256);
    assert.deepEqual(records[0], Array.from({ length: 256 }, (_, i) => 2 * i));
    assert.deepEqual(records[1], Array.from({ length: 256 }, (_, i) => 2 * i + 1));
  });

  it('split sources - text files rescale p=2 -> p=3 with every line once', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'split-sources-'));
    try {
      const file = path.join(dir, 'in.txt');
      const lines = Array.from({ length: 700 }, (_, i) => `line ${i}`);
      writeFileSync(file, lines.join('\n'));
      checkRescale(textFileSource(file), lines, 120);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
