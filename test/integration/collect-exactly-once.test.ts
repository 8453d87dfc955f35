/**
 * collect() exactly once: records reach the job's result only when a checkpoint after them
 * completed (actors/jobmaster/collected.ts), so a TaskExecutor killed mid-run, and the restart
 * from the last checkpoint, neither lose nor repeat any.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { distRoot } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';
import { haClusterPerTest } from '../support/ha-cluster.js';

const job = path.join(distRoot, 'test', 'fixtures', 'jobs', 'keyed-count-collect.js');

/** What is wrong with `collected` as keyed-count's output: for each key, `key,1` … `key,n` once each. */
function exactlyOnceProblems(collected: unknown[], records: number, keys: number): string[] {
  const counts = new Map<string, number[]>();
  for (const line of collected) {
    const [key, n] = String(line).split(',');
    counts.set(key!, [...(counts.get(key!) ?? []), Number(n)]);
  }
  const problems: string[] = [];
  for (let k = 0; k < keys; k++) {
    const expected = Math.floor(records / keys) + (k < records % keys ? 1 : 0);
    const got = (counts.get(`k${k}`) ?? []).sort((a, b) => a - b);
    const wanted = Array.from({ length: expected }, (_, i) => i + 1);
    if (got.length !== wanted.length || got.some((n, i) => n !== wanted[i])) problems.push(`k${k}: ${got.length} lines, expected 1..${expected} once each`);
  }
  return problems;
}

describe('collect - exactly once across a TaskExecutor kill', function () {
  this.timeout(120_000);
  const clusters = haClusterPerTest();

  it('releases each collected record once, none lost, when a TaskExecutor is killed mid-run', async () => {
    const cluster = await clusters.start({ masters: 1, taskExecutors: 2, slots: 2 });
    const client = await cluster.client();
    const records = 12_000;
    const keys = 8;
    const jobId = await client.submitFile(job, { parallelism: 2, args: { records, keys, recordsPerSecond: 3000, checkpointMs: 200 } });
    const details = await waitFor('a checkpoint of the running job', async () => {
      const d = await client.status(jobId);
      return d.state === 'running' && d.checkpoints.some((c) => c.status === 'completed') && d.subtasks.every((s) => s.state === 'running') ? d : undefined;
    }, { timeoutMs: 30_000, intervalMs: 50 });
    const victimId = details.subtasks[0]!.taskExecutorId!;
    const victim = cluster.taskExecutors.find((p) => p.running && p.name === `taskexecutor-${victimId}`)!;
    assert.ok(victim, `TaskExecutor ${victimId} runs`);
    victim.kill('SIGKILL');
    await cluster.startTaskExecutor();
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.ok(result.details.restarts >= 1, `restarted ${result.details.restarts} times`);
    assert.deepEqual(exactlyOnceProblems(result.collected, records, keys), []);
    assert.equal(result.collected.length, records);
  });
});
