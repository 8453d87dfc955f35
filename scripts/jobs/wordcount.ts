/**
 * Word count over generated text: the demo job, and the one the tests check exactly.
 * Args: `lines` (default 10000), `words` per line (default 8), `vocabulary` (default 100).
 * Every word of line i is `w<(i * 31 + j * 17) % vocabulary>`, so expected counts are computable.
 *
 * A job module is uploaded to the cluster as it is: it must not import anything at run time
 * (the `import type` below disappears when compiled).
 */
import type { StreamEnvironment } from '../../lib/dataflow/environment.js';

export default function wordCount(env: StreamEnvironment): void {
  const lines = Number(env.args['lines'] ?? 10_000);
  const words = Number(env.args['words'] ?? 8);
  const vocabulary = Number(env.args['vocabulary'] ?? 100);
  env
    .fromGenerator((i) => Array.from({ length: words }, (_, j) => `w${(i * 31 + j * 17) % vocabulary}`).join(' '), lines)
    .name('text')
    .flatMap((line: string) => line.split(' '))
    .name('split')
    .map((word: string): [string, number] => [word, 1])
    .name('pair')
    .keyBy((pair) => pair[0])
    .sum(1)
    .name('count')
    .collect()
    .name('collect');
}
