/**
 * Nexmark (bench/nexmark/): queries q1 (currency conversion), q2 (selection), q5 (hot items:
 * sliding-window counts, the most per window) and q8 (new users: a tumbling-window join) as
 * jobs on a local cluster (one TaskExecutor, two slots, parallelism 2), each against a
 * single-threaded loop that generates the same events and writes the same result lines in the
 * same run; the two outputs are checked equal (as multisets: the job's subtasks interleave).
 *
 * Job rates are events generated per second from submission to the result (deployment
 * included, as in the dataflow benchmark); loop rates from the first event to the closed file.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { distRoot, killAll } from '../scripts/support/launcher.js';
import { startCluster } from '../scripts/support/standalone-cluster.js';
import { waitFor } from '../scripts/support/wait.js';
import { q1Loop, q2Loop, q5Loop, q8Loop } from './nexmark/queries.js';
import { round, writeResult } from './support/report.js';
import type { ClusterClient } from '../lib/client/cluster-client.js';

const JOB = path.join(distRoot, 'bench', 'jobs', 'nexmark.js');
const PARALLELISM = 2;

/** Each query's loop, and whether bench/jobs/nexmark.ts runs it as a job (else only its loop is measured). */
const QUERIES: ReadonlyArray<{ query: string; loop: (events: number, file: string) => void; job: boolean }> = [
  { query: 'q1', loop: q1Loop, job: true },
  { query: 'q2', loop: q2Loop, job: true },
  { query: 'q5', loop: q5Loop, job: true },
  { query: 'q8', loop: q8Loop, job: true },
];

/** Events per second of `fn(events)`. */
function timed(events: number, fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return events / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** A multiset digest of a file's (or a directory's files') lines: count and sum of FNV-1a hashes. */
function digestOf(target: string): { lines: number; hash: number } {
  const files = statSync(target).isDirectory() ? readdirSync(target).map((f) => path.join(target, f)) : [target];
  let lines = 0;
  let hash = 0;
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.length === 0) continue;
      let h = 0x811c9dc5;
      for (let i = 0; i < line.length; i++) h = Math.imul(h ^ line.charCodeAt(i), 0x01000193);
      hash = (hash + (h >>> 0)) % 0x100000000;
      lines++;
    }
  }
  return { lines, hash };
}

async function jobRate(client: ClusterClient, query: string, events: number, output: string): Promise<number> {
  const start = Date.now();
  const jobId = await client.submitFile(JOB, { parallelism: PARALLELISM, args: { query, events, output } });
  const result = await client.waitForResult(jobId, { pollMs: 20 });
  if (result.state !== 'finished') throw new Error(`nexmark ${query} job ${result.state}: ${result.failure?.message}`);
  return events / ((Date.now() - start) / 1000);
}

export async function run(quick: boolean): Promise<void> {
  const events = quick ? 1_000_000 : 10_000_000;
  const work = mkdtempSync(path.join(tmpdir(), 'flinkish-nexmark-'));
  const cluster = await startCluster({ taskExecutors: 1, slots: PARALLELISM, slotMemoryMb: 512 });
  try {
    const client = await cluster.client();
    await waitFor('the slots', async () => (await client.overview()).slotsTotal === PARALLELISM, { timeoutMs: 15_000 });
    q1Loop(events / 10, path.join(work, 'warm-up')); // warm-up: the loop's code optimized before it is timed
    const metrics: Record<string, number> = { events };
    const baselines: Record<string, number> = {};
    const ratios: Record<string, number> = {};
    for (const { query, loop, job } of QUERIES) {
      const loopFile = path.join(work, `${query}-loop.txt`);
      const loopRate = timed(events, () => loop(events, loopFile));
      const expected = digestOf(loopFile);
      baselines[`${query}_loop_events_per_s`] = Math.round(loopRate);
      if (!job) {
        metrics[`${query}_loop_results`] = expected.lines;
        continue;
      }
      const jobDir = path.join(work, `${query}-job`);
      const jobRateValue = await jobRate(client, query, events, jobDir);
      const actual = digestOf(jobDir);
      if (expected.lines !== actual.lines || expected.hash !== actual.hash) {
        throw new Error(`nexmark ${query}: the job's results differ from the loop's (${actual.lines} lines, digest ${actual.hash}; expected ${expected.lines}, ${expected.hash})`);
      }
      metrics[`${query}_events_per_s`] = Math.round(jobRateValue);
      metrics[`${query}_results`] = expected.lines;
      ratios[`${query}_vs_loop`] = round(jobRateValue / loopRate);
      rmSync(loopFile);
      rmSync(jobDir, { recursive: true });
    }
    writeResult({
      name: 'nexmark',
      quick,
      metrics,
      baselines,
      ratios,
      notes: [
        `parallelism ${PARALLELISM} on one TaskExecutor; job rates include deployment (submission to result); results checked equal to the loop's (line multiset digest)`,
      ],
    });
  } finally {
    await cluster.stop();
    await killAll();
    rmSync(work, { recursive: true, force: true });
  }
}
