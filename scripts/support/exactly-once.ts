/**
 * The check that the keyed-count job's output is exactly once: for every key k, the committed
 * part files hold exactly the lines `k,1` … `k,n_k`, each once.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export function expectedCount(records: number, keys: number, k: number): number {
  return Math.floor(records / keys) + (k < records % keys ? 1 : 0);
}

/** Problems found (empty when the output is exactly once). Only committed `part-*` files count. */
export function checkExactlyOnce(dir: string, records: number, keys: number): string[] {
  const seen = new Map<string, number[]>();
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('part-')) : [];
  for (const file of files) {
    for (const line of readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      if (!line) continue;
      const [key, count] = line.split(',');
      let list = seen.get(key!);
      if (!list) seen.set(key!, (list = []));
      list.push(Number(count));
    }
  }
  const problems: string[] = [];
  for (let k = 0; k < keys; k++) {
    const key = `k${k}`;
    const expected = expectedCount(records, keys, k);
    const got = (seen.get(key) ?? []).sort((a, b) => a - b);
    const duplicates = got.filter((c, i) => i > 0 && got[i - 1] === c).length;
    const missing = expected - new Set(got).size;
    if (got.length !== expected || got.some((c, i) => c !== i + 1)) {
      problems.push(`${key}: expected 1..${expected} once each; ${missing} missing, ${duplicates} duplicated, ${got.length} lines`);
    }
  }
  if (seen.size > keys) problems.push(`${seen.size - keys} unexpected keys`);
  return problems;
}
