/**
 * The benchmark's word count: the same text and operators as scripts/jobs/wordcount.ts, but the
 * rolling counts are dropped at the end instead of collected, so the job measures the dataflow,
 * not the client. Args: `lines`, `words` (per line), `vocabulary`.
 */
import type { StreamEnvironment } from '../../lib/dataflow/environment.js';

export default function wordCountDiscard(env: StreamEnvironment): void {
  const lines = Number(env.args['lines'] ?? 100_000);
  const words = Number(env.args['words'] ?? 8);
  const vocabulary = Number(env.args['vocabulary'] ?? 100);
  env
    .fromGenerator((i) => Array.from({ length: words }, (_, j) => `w${(i * 31 + j * 17) % vocabulary}`).join(' '), lines)
    .flatMap((line: string) => line.split(' '))
    .map((word: string): [string, number] => [word, 1])
    .keyBy((pair) => pair[0])
    .sum(1)
    .filter(() => false)
    .print();
}
