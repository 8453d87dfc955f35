/**
 * The demo (`npm run demo`): a local HA cluster with its own etcd — two Masters (a leader and
 * a standby) and two TaskExecutors of two slots — runs the word-count job and prints the most
 * frequent words; then it runs a stateful, exactly-once keyed count, kills the leading Master
 * with SIGKILL in the middle, and shows the standby taking over and the job finishing with
 * every count exactly once. Everything it starts is stopped at the end.
 */
import path from 'node:path';
import { checkExactlyOnce } from './support/exactly-once.js';
import { distRoot } from './support/launcher.js';
import { waitFor } from './support/wait.js';
import { startHaCluster } from './support/local-ha.js';
import { summarize } from './progress.js';

const job = (name: string) => path.join(distRoot, 'scripts', 'jobs', `${name}.js`);
const say = (text: string) => console.log(`\x1b[1m▸ ${text}\x1b[0m`);
const note = (text: string) => console.log(`  ${text}`);

async function main(): Promise<number> {
  say('starting a local HA cluster: etcd, 2 Masters, 2 TaskExecutors × 2 slots');
  const cluster = await startHaCluster({ masters: 2, taskExecutors: 2, slots: 2 });
  try {
    const client = await cluster.client();
    const leader = await waitForLeader(() => cluster.leader(client));
    note(`leader: ${leader.ready['node']} (pid ${leader.pid}); standby: ${cluster.masters.filter((m) => m !== leader).map((m) => m.ready['node']).join(', ')}`);

    say('word count over 200,000 generated lines, parallelism 2');
    const wc = await client.submitFile(job('wordcount'), { parallelism: 2, args: { lines: 200_000 } });
    let last = '';
    const wcResult = await client.waitForResult(wc, {
      pollMs: 500,
      onProgress: (d) => {
        const line = summarize(d);
        if (line !== last) note((last = line));
      },
    });
    const counts = new Map<string, number>();
    for (const [word, count] of wcResult.collected as Array<[string, number]>) counts.set(word, Math.max(counts.get(word) ?? 0, count));
    const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 5);
    note(`${wcResult.state} in ${wcResult.endedAt - wcResult.submittedAt} ms: ${counts.size} distinct words; top: ${top.map(([w, c]) => `${w}=${c}`).join(' ')}`);
    note(`tasks: ${wcResult.details.vertices.map((v) => `${v.name} ×${v.parallelism}`).join(' | ')}; slots used: ${wcResult.details.slots.length}`);

    say('exactly-once keyed count with checkpoints; the leader is killed mid-run');
    const output = path.join(cluster.workDir, 'keyed-count-output');
    const records = 60_000;
    const keys = 20;
    const kc = await client.submitFile(job('keyed-count'), { args: { records, keys, output, recordsPerSecond: 6000, checkpointMs: 300 } });
    await waitFor('a completed checkpoint', async () => (await client.status(kc)).checkpoints.some((c) => c.status === 'completed'), { timeoutMs: 30_000 });
    const victim = cluster.leader(client)!;
    note(`a checkpoint completed; killing the leader ${victim.ready['node']} (pid ${victim.pid}) with SIGKILL`);
    const killedAt = Date.now();
    victim.kill('SIGKILL');
    const next = await waitForLeader(() => {
      const m = cluster.leader(client);
      return m && m !== victim ? m : undefined;
    });
    note(`new leader ${next.ready['node']} after ${Date.now() - killedAt} ms; the job resumes from its latest checkpoint`);
    const kcResult = await client.waitForResult(kc);
    note(`job ${kcResult.state}: attempt ${kcResult.details.attempt}, restored from checkpoint ${kcResult.details.restoredFrom ?? '-'}`);
    const problems = checkExactlyOnce(output, records, keys);
    if (problems.length > 0 || kcResult.state !== 'finished') {
      for (const p of problems.slice(0, 10)) note(`✗ ${p}`);
      return 1;
    }
    note(`✓ output holds all ${records} counts exactly once (nothing lost, nothing duplicated)`);
    return 0;
  } finally {
    say('stopping the cluster');
    await cluster.stop();
  }
}

function waitForLeader<T>(find: () => T | undefined): Promise<T> {
  return waitFor('a leading Master', find, { timeoutMs: 30_000, intervalMs: 50 });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`demo failed: ${err.stack ?? err.message}`);
      process.exit(1);
    },
  );
}
