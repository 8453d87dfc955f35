/**
 * A windowed job as a user writes it, on real processes: a TypeScript job (bundled by the
 * client, with value imports of the `flinkish` API) counting out-of-order records per key in
 * event-time tumbling windows into the exactly-once file sink, while its TaskExecutor is
 * SIGKILLed mid-run and a spare takes over. The committed output must be exactly the counts
 * the test computes: no window lost, none doubled, none miscounted after the restore.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { haClusterPerTest } from '../support/ha-cluster.js';
import { waitFor } from '../support/wait.js';

const RECORDS = 8000;
const KEYS = 4;
const WINDOW_MS = 1000;

/**
 * Record i: key `k<i % keys>` at about 10 ms × i, up to 40 ms early or late (so never more
 * than 80 ms out of order, within the job's bound of 100 ms: no record is late).
 */
function readingAt(i: number): { key: string; t: number } {
  return { key: `k${i % KEYS}`, t: 1000 + i * 10 + ((i * 7) % 9) * 10 - 40 };
}

const JOB_TS = `import { TumblingEventTimeWindows, WatermarkStrategy, type StreamEnvironment } from 'flinkish';

interface Reading {
  key: string;
  t: number;
}

export default function windowedCounts(env: StreamEnvironment): void {
  const records = Number(env.args['records']);
  const keys = Number(env.args['keys']);
  const perSecond = Number(env.args['recordsPerSecond']);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  env.enableCheckpointing(200);
  env.setRestartStrategy({ type: 'fixed-delay', attempts: 10, delayMs: 100 });
  env
    .fromGenerator((i): Reading => {
      // Paced (Atomics.wait sleeps the task thread), so that the run lasts long enough to kill.
      if (i % Math.max(1, Math.floor(perSecond / 100)) === 0) Atomics.wait(pause, 0, 0, 10);
      return { key: \`k\${i % keys}\`, t: 1000 + i * 10 + ((i * 7) % 9) * 10 - 40 };
    }, records)
    .setParallelism(1) // one paced reader (the windows run at 2)
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<Reading>(100).withTimestampAssigner((r) => r.t))
    .keyBy((r) => r.key)
    .window(TumblingEventTimeWindows.of(${WINDOW_MS}))
    .aggregate<number, number, string>(
      { createAccumulator: () => 0, add: (_r, n) => n + 1, getResult: (n) => n },
      (key, ctx, [n], out) => out.collect(\`\${key},\${ctx.window.start},\${n}\`),
    )
    .writeToFiles(String(env.args['output']));
}
`;

function expectedLines(): string[] {
  const counts = new Map<string, number>();
  for (let i = 0; i < RECORDS; i++) {
    const { key, t } = readingAt(i);
    const line = `${key},${t - (t % WINDOW_MS)}`;
    counts.set(line, (counts.get(line) ?? 0) + 1);
  }
  return [...counts].map(([window, n]) => `${window},${n}`).sort();
}

/** The lines of the sink's committed part files. */
function committedLines(dir: string): string[] {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('part-')) : [];
  return files.flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter((l) => l.length > 0)).sort();
}

describe('event time - a TypeScript windowed job through a TaskExecutor SIGKILL', function () {
  this.timeout(60_000);
  const clusters = haClusterPerTest();
  let project: string;

  before(() => {
    project = mkdtempSync(path.join(tmpdir(), 'flinkish-window-job-'));
    writeFileSync(path.join(project, 'job.ts'), JOB_TS);
  });
  after(() => {
    rmSync(project, { recursive: true, force: true });
  });

  it('counts out-of-order records in event-time windows exactly once while a spare takes over from a killed TaskExecutor', async () => {
    const cluster = await clusters.start({ masters: 1, taskExecutors: 1, slots: 2 });
    const client = await cluster.client();
    await waitFor('2 slots', async () => (await client.overview()).slotsTotal === 2, { timeoutMs: 20_000 });
    const output = path.join(cluster.workDir, 'out');
    const jobId = await client.submitFile(path.join(project, 'job.ts'), {
      parallelism: 2,
      args: { records: RECORDS, keys: KEYS, recordsPerSecond: 2000, output },
    });
    // The kill after progress: a checkpoint completed with every subtask running, windows fired.
    await waitFor('a checkpoint of the running job', async () => {
      const d = await client.status(jobId);
      return d.state === 'running' && d.checkpoints.some((c) => c.status === 'completed') && d.subtasks.every((s) => s.state === 'running');
    }, { timeoutMs: 30_000, intervalMs: 50 });
    const victim = cluster.taskExecutors[0]!;
    victim.kill('SIGKILL');
    await cluster.startTaskExecutor(); // the spare
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.ok(result.details.restarts >= 1, `restarted ${result.details.restarts} times`);
    assert.deepEqual(committedLines(output), expectedLines());
  });
});
