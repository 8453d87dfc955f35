/** Benchmark results: a readable table on stdout and `bench/results/NAME.json`. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchResult {
  name: string;
  quick: boolean;
  metrics: Record<string, number>;
  baselines: Record<string, number>;
  ratios: Record<string, number>;
  notes?: string[];
}

/** bench/results in the source tree (this file runs from dist/bench/support). */
export const resultsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench', 'results');

export function writeResult(result: BenchResult): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${result.name}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  const rows: Array<[string, string, string]> = [];
  for (const [group, values] of [['metric', result.metrics], ['baseline', result.baselines], ['ratio', result.ratios]] as const) {
    for (const [key, value] of Object.entries(values)) rows.push([group, key, format(value)]);
  }
  const w0 = Math.max(...rows.map((r) => r[0].length), 5);
  const w1 = Math.max(...rows.map((r) => r[1].length), 4);
  console.log(`\n${result.name}${result.quick ? ' (quick)' : ''}`);
  console.log(`${'kind'.padEnd(w0)}  ${'name'.padEnd(w1)}  value`);
  console.log(`${'-'.repeat(w0)}  ${'-'.repeat(w1)}  ${'-'.repeat(12)}`);
  for (const [kind, key, value] of rows) console.log(`${kind.padEnd(w0)}  ${key.padEnd(w1)}  ${value.padStart(12)}`);
  for (const note of result.notes ?? []) console.log(`note: ${note}`);
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
  return file;
}

function format(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(3);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
