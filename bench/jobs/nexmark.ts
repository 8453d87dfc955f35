/**
 * A Nexmark query as a job (bench/nexmark.ts runs it): the generator's events as a split
 * generator source, the query's per-record functions, the results into text files (one per
 * subtask). It imports the generator and the queries, which the client bundles with it.
 * Args: `query` (q1 or q2), `events`, `output` (a directory).
 */
import type { DataStream, StreamEnvironment } from 'flinkish';
import { eventAt, type Bid, type NexmarkEvent } from '../nexmark/generator.js';
import { isBid, q1Line, q2Line, q2Selects } from '../nexmark/queries.js';

export default function nexmark(env: StreamEnvironment): void {
  const query = String(env.args['query'] ?? 'q1');
  const events = Number(env.args['events'] ?? 1_000_000);
  const output = String(env.args['output'] ?? '');
  if (!output) throw new Error('nexmark needs --arg output=<directory>');
  // The filter is the type guard that the API's filter cannot express.
  const bids = env.fromGenerator<NexmarkEvent>(eventAt, events).name('nexmark events').filter(isBid).name('bids') as unknown as DataStream<Bid>;
  switch (query) {
    case 'q1':
      bids.map(q1Line).name('q1: price in euros').writeAsText(output).name('q1 results');
      return;
    case 'q2':
      bids.filter(q2Selects).name('q2: auction % 123 = 0').map(q2Line).writeAsText(output).name('q2 results');
      return;
    default:
      throw new Error(`nexmark: unknown query '${query}' (this job runs q1 and q2; q5 and q8 need windows)`);
  }
}
