import assert from 'node:assert/strict';
import path from 'node:path';
import { EtcdHaServices, HaKeys } from '../../lib/ha/index.js';
import { rangePages } from '../../lib/ha/etcd-pages.js';
import type { JobResult } from '../../actors/jobmaster/status.js';
import { distRoot } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';
import { haClusterPerTest } from '../support/ha-cluster.js';

const wordcount = path.join(distRoot, 'scripts', 'jobs', 'wordcount.js');

/** Expected final count of every word of `wordcount.js` with these args. */
function expectedCounts(lines: number, words: number, vocabulary: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < lines; i++) {
    for (let j = 0; j < words; j++) {
      const word = `w${(i * 31 + j * 17) % vocabulary}`;
      counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  return counts;
}

function finalCounts(collected: unknown[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [word, count] of collected as Array<[string, number]>) counts.set(word, Math.max(counts.get(word) ?? 0, count));
  return counts;
}

describe('ha - results after ordinary use', function () {
  this.timeout(240_000);
  const clusters = haClusterPerTest();

  it('recovers and serves after 50 jobs with large collected results and a leader kill; old results are still retrievable', async () => {
    const cluster = await clusters.start({ masters: 2, taskExecutors: 1, slots: 4 });
    const client = await cluster.client();
    const leader = await waitFor('a leading Master', () => cluster!.leader(client), { timeoutMs: 20_000 });
    // 16,000 collected records per job, ~130 KB: 50 such results (6.5 MB) held in etcd would
    // not fit in one range answer (4 MiB), which is what a new leader reads them with.
    const args = { lines: 2000, words: 8, vocabulary: 100 };
    const jobs = 50;
    const jobIds: string[] = [];
    // Back to back, four at a time (one slot each).
    for (let i = 0; i < jobs; i += 4) {
      const batch = await Promise.all(Array.from({ length: Math.min(4, jobs - i) }, () => client.submitFile(wordcount, { parallelism: 1, args })));
      const results = await Promise.all(batch.map((jobId) => client.waitForResult(jobId, { pollMs: 50 })));
      for (const result of results) assert.equal(result.state, 'finished', JSON.stringify(result.failure));
      jobIds.push(...batch);
    }
    const first = (await client.result(jobIds[0]!)) as JobResult;
    assert.equal(first.collected.length, args.lines * args.words);
    assert.deepEqual(finalCounts(first.collected), expectedCounts(args.lines, args.words, args.vocabulary));

    // What etcd holds of each result is small: the records are in blob storage.
    const ha = new EtcdHaServices({ ...cluster.etcd.clientOptions, clusterId: cluster.env['FLINKISH_CLUSTER_ID']! });
    try {
      let stored = 0;
      for await (const page of rangePages(ha.root, HaKeys.jobResultPrefix, { operation: 'test read', pageSize: 100 })) {
        for (const kv of page) {
          stored++;
          assert.ok(kv.value.length < 16 * 1024, `result ${kv.key.toString()} takes ${kv.value.length} bytes in etcd`);
        }
      }
      assert.equal(stored, jobs);
    } finally {
      await ha.close();
    }

    leader.kill('SIGKILL');
    await waitFor('a new leader that serves', async () => {
      const now = cluster!.leader(client);
      if (!now || now === leader) return undefined;
      return (await client.list()).length === jobs ? now : undefined;
    }, { timeoutMs: 30_000 });
    const listed = await client.list();
    assert.ok(listed.every((j) => j.state === 'finished'));
    // Old results come back whole, from the blob the old leader wrote.
    for (const jobId of [jobIds[0]!, jobIds[jobs - 1]!]) {
      const again = (await client.result(jobId)) as JobResult;
      assert.equal(again.state, 'finished');
      assert.deepEqual(finalCounts(again.collected), expectedCounts(args.lines, args.words, args.vocabulary));
    }
    assert.deepEqual(((await client.result(jobIds[0]!)) as JobResult).collected, first.collected);
    // And the new leader runs new jobs.
    const next = await client.submitFile(wordcount, { parallelism: 1, args: { ...args, lines: 10 } });
    assert.equal((await client.waitForResult(next, { pollMs: 50 })).state, 'finished');
  });
});
