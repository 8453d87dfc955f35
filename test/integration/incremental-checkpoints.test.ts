import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { checkExactlyOnce } from '../../scripts/support/exactly-once.js';
import { readSnapshot } from '../../lib/task/snapshot-store.js';
import { distRoot } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';
import { haClusterPerTest } from '../support/ha-cluster.js';

const job = path.join(distRoot, 'scripts', 'jobs', 'incremental-count.js');

/** Every snapshot file under a job's checkpoint directory. */
function stateFiles(jobDir: string): string[] {
  if (!existsSync(jobDir)) return [];
  return readdirSync(jobDir)
    .filter((d) => d.startsWith('chk-'))
    .flatMap((d) => (existsSync(path.join(jobDir, d)) ? readdirSync(path.join(jobDir, d)).filter((f) => f.endsWith('.state')).map((f) => path.join(jobDir, d, f)) : []));
}

describe('incremental checkpoints - a large cold keyed state checkpoints by its changes', function () {
  this.timeout(60_000);
  const clusters = haClusterPerTest();

  it('writes only changed key groups, restores exactly once from the chain after a TaskExecutor kill, and deletes shared files once unreferenced', async () => {
    const cluster = await clusters.start({ masters: 1, taskExecutors: 2, slots: 2 });
    const client = await cluster.client();
    await waitFor('4 slots', async () => (await client.overview()).slotsTotal === 4, { timeoutMs: 20_000 });
    const output = path.join(cluster.workDir, 'out');
    const records = 6000;
    const keys = 4;
    const coldKeys = 20_000;
    const jobId = await client.submitFile(job, { parallelism: 2, args: { records, keys, output, coldKeys, ballastBytes: 256, recordsPerSecond: 2000, checkpointMs: 150 } });
    // The checkpoints taken while the cold keys arrive hold all of them, together or spread over
    // several (a loaded machine takes longer than a checkpoint interval for the cold phase). Those
    // triggered once every cold record has reached the keyed subtasks hold only the hot key groups.
    let coldDoneAt: number | null = null;
    const details = await waitFor('a full checkpoint and incremental ones after the cold phase', async () => {
      const d = await client.status(jobId);
      const keyedVertex = d.vertices.find((v) => v.parallelism === 2)!.id;
      const keyedIn = d.subtasks.filter((s) => s.vertexId === keyedVertex).reduce((sum, s) => sum + s.metrics.recordsIn, 0);
      if (coldDoneAt === null && keyedIn >= coldKeys) coldDoneAt = Date.now();
      const done = d.checkpoints.filter((c) => c.status === 'completed');
      const largest = Math.max(0, ...done.map((c) => c.bytes));
      const after = coldDoneAt === null ? [] : done.filter((c) => c.triggeredAt > coldDoneAt!);
      return largest > 2_000_000 && after.length >= 2 && d.subtasks.every((s) => s.state === 'running') ? { d, largest, after } : undefined;
    }, { timeoutMs: 30_000, intervalMs: 50 });
    for (const c of details.after) assert.ok(c.bytes < details.largest / 10, `checkpoint ${c.id}: ${c.bytes} B, the full one ${details.largest} B`);
    // Kill the TaskExecutor of a keyed subtask: the job restores from an incremental checkpoint (a chain).
    const keyedId = details.d.vertices.find((v) => v.parallelism === 2)!.id;
    const keyed = details.d.subtasks.find((s) => s.vertexId === keyedId)!;
    const victim = cluster.taskExecutors.find((p) => p.running && p.name === `taskexecutor-${keyed.taskExecutorId}`)!;
    victim.kill('SIGKILL');
    await cluster.startTaskExecutor();
    const result = await client.waitForResult(jobId, { pollMs: 50 });
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.ok(result.details.restarts >= 1);
    assert.ok(result.details.restoredFrom !== null, 'restored from a checkpoint');
    assert.deepEqual(checkExactlyOnce(output, records, keys), []);
    // Retention 1: only the last checkpoint is retained. Its keyed files refer to older ones,
    // which survive; every other keyed file is deleted.
    const jobDir = path.join(cluster.workDir, 'checkpoints', jobId);
    const last = Math.max(...result.details.checkpoints.filter((c) => c.status === 'completed').map((c) => c.id));
    const own = stateFiles(jobDir).filter((f) => path.basename(path.dirname(f)) === `chk-${last}`);
    const keyedVertex = new Set<string>();
    const referenced = new Set<string>();
    for (const f of own) {
      const s = await readSnapshot(f);
      if (Object.keys(s.keyedState).length === 0 && s.references === undefined) continue;
      keyedVertex.add(s.vertexId);
      referenced.add(f);
      for (const refs of Object.values(s.references ?? {})) for (const [, chain] of refs) for (const at of chain) referenced.add(at);
    }
    assert.ok(keyedVertex.size === 1, `one keyed vertex, got ${[...keyedVertex].join(', ')}`);
    assert.ok([...referenced].some((f) => !f.includes(`chk-${last}`)), 'the last checkpoint shares files of subsumed ones');
    const keyedFiles = () => stateFiles(jobDir).filter((f) => path.basename(f).startsWith(`${[...keyedVertex][0]}-`));
    for (const f of referenced) assert.ok(existsSync(f), `${f} is referred to by the retained checkpoint and must exist`);
    await waitFor('unreferenced keyed files to be deleted', () => keyedFiles().every((f) => referenced.has(f)), { timeoutMs: 10_000 });
  });
});
