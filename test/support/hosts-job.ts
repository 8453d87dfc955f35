/**
 * What the cross-host tests share (hosts-failover, hosts-partitions): 8 namespace hosts, an HA
 * cluster on them, the checkpointed keyed count submitted from the control host, and the checks
 * every scenario ends with: exactly-once output and the no-overlap audit of acting leaders.
 *
 * Layout: h0 runs the etcd launcher and the client (the test process, in the root namespace,
 * reaches no host address); h1..h3 each an etcd member and a Master (every Master and
 * TaskExecutor is given all three etcd endpoints); h4 and h5 a TaskExecutor with one slot each,
 * which the job (parallelism 2) fills; h6 the spare TaskExecutor, started once the job runs; h7
 * the object store (s3rver), where checkpoints go: a host killed with its disk loses nothing the
 * job restores from. The sink's output goes to a directory every host sees (a shared filesystem).
 *
 * @example
 * ```ts
 * const h = useHostsJob();
 * it('...', async () => {
 *   const c = await h.start();
 *   const { output } = await h.submit(25_000);
 *   ... a fault ...
 *   await h.finishedExactlyOnce(output, 25_000);
 *   await h.auditLeaders();
 * });
 * ```
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { actionsFromLog, overlaps, type LeaderAction } from '../../scripts/drill/audit.js';
import { checkExactlyOnce } from '../../scripts/support/exactly-once.js';
import { unpace, unpacedFileOf } from '../../scripts/support/unpace.js';
import { startNetnsHaCluster, type NetnsHaCluster } from '../../scripts/support/netns-ha.js';
import { startS3Server, type TestS3Server } from './s3-server.js';
import { distRoot, killAll, type Proc } from './launcher.js';
import { useNetnsHosts, type NetnsHost, type NetnsHosts } from './netns-hosts.js';
import { waitFor } from './wait.js';

const JOB_CLIENT = 'test/fixtures/hosts-job.js';
const BUCKET = 'flinkish';
const keyedCount = path.join(distRoot, 'scripts', 'jobs', 'keyed-count.js');
export const LEASE_TTL_MS = 3000;
export const KEYS = 10;

export type Line = Record<string, unknown>;

/** The JSON lines a process printed (stdout and its pino logs on stderr). */
export const lines = (proc: Proc): Line[] =>
  proc.output.filter((l) => l.startsWith('{')).map((l) => {
    try {
      return JSON.parse(l) as Line;
    } catch {
      return {};
    }
  });
export const events = (proc: Proc, name: string): Line[] => lines(proc).filter((e) => e['event'] === name);
/** When a process logged `msg` (pino's `time`, ms since the epoch), the latest first. */
export const loggedAt = (proc: Proc, msg: string): number[] => lines(proc).filter((l) => l['msg'] === msg).map((l) => Number(l['time'])).reverse();

/** The Master that leads now: granted last, not revoked since. */
/**
 * Whether TaskExecutor `proc` gave up its leader session (and cancelled its tasks) after `since`:
 * its connection to the ResourceManager died, or the ResourceManager stopped heartbeating it.
 */
export const droppedSession = (proc: Proc, since: number): boolean =>
  lines(proc).some((l) => (l['msg'] === 'ResourceManager lost' || l['msg'] === 'no heartbeat from the ResourceManager; registering again') && Number(l['time']) > since);

export const leading = (c: NetnsHaCluster): Proc | undefined => c.masters.find((m) => (loggedAt(m, 'leadership granted')[0] ?? 0) > (loggedAt(m, 'leadership revoked')[0] ?? 0));

export interface HostsJob {
  readonly net: NetnsHosts;
  /** The cluster of the running test. */
  readonly cluster: NetnsHaCluster;
  /** The job client of the running test (its `status`, `masters` and `result` events). */
  readonly job: Proc;
  start(): Promise<NetnsHaCluster>;
  /** Submit the keyed count from the control host; resolves once it has a completed checkpoint on two TaskExecutors and the spare is registered. */
  submit(records: number): Promise<{ output: string }>;
  /** The job's result, once it finished with every record counted exactly once (its remaining input unpaced). */
  finishedExactlyOnce(output: string, records: number): Promise<Line>;
  /**
   * Stop the cluster and audit the Masters' complete log files: no action of an older leader
   * session after one of a newer session (scripts/drill/audit.ts). Call it last. Resolves
   * with the audited actions.
   */
  auditLeaders(): Promise<LeaderAction[]>;
  /** The TaskExecutor (not the spare) that runs part of the job, and the spare's id. */
  victim(): { victim: Proc; victimId: string; spareId: string };
  /** Once the job runs again, after `since`, on the spare and without `victimId`. */
  runningOnSpare(since: number, victimId: string, spareId: string): Promise<Line>;
}

/** Mocha hooks: the hosts for the file's tests; each test's cluster and job stopped after it (logs kept if it failed). */
export function useHostsJob(): HostsJob {
  const hosts = useNetnsHosts(8);
  let s3: TestS3Server | undefined;
  let cluster: NetnsHaCluster | undefined;
  let job: Proc | undefined;

  afterEach(async function () {
    this.timeout(30_000);
    const failed = this.currentTest?.state === 'failed';
    await job?.stop();
    await cluster?.stop({ keepWorkDir: failed });
    if (failed && cluster) console.error(`logs kept in ${cluster.logsDir}`);
    await s3?.stop();
    for (const host of hosts.net.hosts) if (!host.running) await host.revive();
    cluster = job = s3 = undefined;
    await killAll();
  });

  const started = (): NetnsHaCluster => {
    assert.ok(cluster, 'no cluster: call start() first');
    return cluster;
  };
  const submitted = (): Proc => {
    assert.ok(job, 'no job: call submit() first');
    return job;
  };

  return {
    get net() {
      return hosts.net;
    },
    get cluster() {
      return started();
    },
    get job() {
      return submitted();
    },

    async start() {
      const [control, m1, m2, m3, t1, t2, spare, store] = hosts.net.hosts as NetnsHost[];
      s3 = await startS3Server([BUCKET], { host: store! });
      cluster = await startNetnsHaCluster({
        control: control!,
        etcdHosts: [m1!, m2!, m3!],
        masterHosts: [m1!, m2!, m3!],
        taskExecutorHosts: [t1!, t2!, spare!],
        taskExecutors: 2, // the spare starts once the job fills the two others
        slots: 1,
        env: {
          FLINKISH_LEASE_TTL_SECONDS: String(LEASE_TTL_MS / 1000),
          FLINKISH_METRICS_PORT: '-1',
          FLINKISH_CHECKPOINT_DIR: `s3://${BUCKET}/checkpoints`,
          FLINKISH_SAVEPOINT_DIR: `s3://${BUCKET}/savepoints`,
          FLINKISH_S3_ENDPOINT: s3.endpoint,
          FLINKISH_S3_PATH_STYLE: 'true',
          ...s3.env,
        },
      });
      return cluster;
    },

    async submit(records) {
      const c = started();
      const output = path.join(c.workDir, 'out');
      const args = { records, keys: KEYS, output, recordsPerSecond: 2500, checkpointMs: 200, unpacedBy: unpacedFileOf(output) };
      job = await hosts.net.hosts[0]!.launch(JOB_CLIENT, {
        args: ['--job', keyedCount, '--parallelism', '2', ...Object.entries(args).flatMap(([k, v]) => ['--arg', `${k}=${v}`]), '--rest', c.masters.map((m) => String(m.ready['rest'])).join(',')],
        env: c.env,
        readyTimeoutMs: 30_000,
        name: 'client',
      });
      const client = job;
      await waitFor('a completed checkpoint on two TaskExecutors', () => events(client, 'status').some((s) => Number(s['checkpoints']) > 0 && (s['taskExecutors'] as string[]).length === 2), { timeoutMs: 30_000 });
      const spare = await c.startTaskExecutor();
      const spareId = spare.ready['taskExecutorId'];
      await waitFor('the spare registered', () => c.masters.some((m) => lines(m).some((l) => l['msg'] === 'TaskExecutor registered' && l['taskExecutor'] === spareId)), { timeoutMs: 15_000 });
      return { output };
    },

    async finishedExactlyOnce(output, records) {
      const client = submitted();
      unpace(output); // the scenario is over: the rest of the input need not take its paced time
      const result = await waitFor('the job result', () => events(client, 'result')[0], { timeoutMs: 60_000 });
      assert.equal(result['state'], 'finished', JSON.stringify(result));
      assert.deepEqual(checkExactlyOnce(output, records, KEYS), []);
      return result;
    },

    async auditLeaders() {
      const c = started();
      await job?.stop();
      await c.stop({ keepWorkDir: true }); // every line in the files; afterEach removes them (or keeps them on failure)
      const actions = c.masters.flatMap((m) => actionsFromLog(m.name, m.logFile ? readFileSync(m.logFile, 'utf8').split('\n') : []));
      assert.ok(actions.some((a) => a.what === 'granted leadership'), `no leader action in the Masters' logs (${c.logsDir})`);
      assert.deepEqual(overlaps(actions), [], 'two leaders acted in the same period');
      return actions;
    },

    victim() {
      const c = started();
      const running = events(submitted(), 'status').find((s) => Number(s['checkpoints']) > 0 && (s['taskExecutors'] as string[]).length === 2)!['taskExecutors'] as string[];
      const spareId = String(c.taskExecutors[2]!.ready['taskExecutorId']);
      assert.ok(!running.includes(spareId), `the spare ${spareId} runs the job from the start: ${running.join(', ')}`);
      const victimId = running[0]!;
      return { victim: c.taskExecutors.find((p) => p.ready['taskExecutorId'] === victimId)!, victimId, spareId };
    },

    runningOnSpare(since, victimId, spareId) {
      const client = submitted();
      return waitFor('the job running again on the spare', () =>
        events(client, 'status').find((s) => {
          const tes = (s['taskExecutors'] as string[] | undefined) ?? [];
          return Number(s['time']) > since && s['state'] === 'running' && Number(s['attempt']) > 0 && tes.includes(spareId) && !tes.includes(victimId);
        }), { timeoutMs: 20_000 });
    },
  };
}
