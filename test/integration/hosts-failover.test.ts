/**
 * An HA cluster across namespace hosts, with real etcd and real processes, and faults that only
 * several machines have: a host cut off the network, a host that dies with its disk.
 *
 * Layout: h0 runs the etcd launcher and the client (the test process, in the root namespace,
 * reaches no host address); h1..h3 each an etcd member and a Master; h4 and h5 a TaskExecutor
 * with one slot each, which the job (parallelism 2) fills; h6 the spare TaskExecutor, started
 * once the job runs.
 * Checkpoints go to a directory every host sees. Each scenario runs the checkpointed keyed count
 * into the transactional file sink and ends with its output checked exactly once.
 * Needs root, `ip` and `nft`: without them the `before` hook fails with the reason.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { checkExactlyOnce } from '../../scripts/support/exactly-once.js';
import { startNetnsHaCluster, type NetnsHaCluster } from '../../scripts/support/netns-ha.js';
import { distRoot, killAll, type Proc } from '../support/launcher.js';
import { useNetnsHosts, type NetnsHost } from '../support/netns-hosts.js';
import { waitFor } from '../support/wait.js';

const JOB_CLIENT = 'test/fixtures/hosts-job.js';
const keyedCount = path.join(distRoot, 'scripts', 'jobs', 'keyed-count.js');
const LEASE_TTL_MS = 3000;
const KEYS = 10;

type Line = Record<string, unknown>;

/** The JSON lines a process printed (stdout and its pino logs on stderr). */
const lines = (proc: Proc): Line[] =>
  proc.output.filter((l) => l.startsWith('{')).map((l) => {
    try {
      return JSON.parse(l) as Line;
    } catch {
      return {};
    }
  });
const events = (proc: Proc, name: string): Line[] => lines(proc).filter((e) => e['event'] === name);
/** When a Master logged `msg` (pino's `time`, ms since the epoch), the latest first. */
const loggedAt = (proc: Proc, msg: string): number[] => lines(proc).filter((l) => l['msg'] === msg).map((l) => Number(l['time'])).reverse();

describe('hosts - HA failover across namespace hosts', function () {
  this.timeout(120_000);
  const hosts = useNetnsHosts(7);
  let cluster: NetnsHaCluster | undefined;
  let job: Proc | undefined;

  afterEach(async function () {
    this.timeout(30_000);
    const failed = this.currentTest?.state === 'failed';
    await job?.stop();
    await cluster?.stop({ keepWorkDir: failed });
    if (failed && cluster) console.error(`logs kept in ${cluster.logsDir}`);
    for (const host of hosts.net.hosts) if (!host.running) await host.revive();
    cluster = job = undefined;
    await killAll();
  });

  async function start(options: { mastersUseLocalEtcd?: boolean } = {}): Promise<NetnsHaCluster> {
    const [control, m1, m2, m3, t1, t2, spare] = hosts.net.hosts as NetnsHost[];
    cluster = await startNetnsHaCluster({
      control: control!,
      etcdHosts: [m1!, m2!, m3!],
      masterHosts: [m1!, m2!, m3!],
      taskExecutorHosts: [t1!, t2!, spare!],
      taskExecutors: 2, // the spare starts once the job fills the two others
      slots: 1,
      ...options,
      env: { FLINKISH_LEASE_TTL_SECONDS: String(LEASE_TTL_MS / 1000), FLINKISH_METRICS_PORT: '-1' },
    });
    return cluster;
  }

  /** Submit the keyed count from the control host; resolves once it has a completed checkpoint and the spare is registered. */
  async function submit(records: number): Promise<{ output: string }> {
    const output = path.join(cluster!.workDir, 'out');
    const args = { records, keys: KEYS, output, recordsPerSecond: 2500, checkpointMs: 200 };
    job = await hosts.net.hosts[0]!.launch(JOB_CLIENT, {
      args: ['--job', keyedCount, '--parallelism', '2', ...Object.entries(args).flatMap(([k, v]) => ['--arg', `${k}=${v}`]), '--rest', cluster!.masters.map((m) => String(m.ready['rest'])).join(',')],
      env: cluster!.env,
      readyTimeoutMs: 30_000,
      name: 'client',
    });
    await waitFor('a completed checkpoint on two TaskExecutors', () => events(job!, 'status').some((s) => Number(s['checkpoints']) > 0 && (s['taskExecutors'] as string[]).length === 2), { timeoutMs: 30_000 });
    const spare = await cluster!.startTaskExecutor();
    const spareId = spare.ready['taskExecutorId'];
    await waitFor('the spare registered', () => cluster!.masters.some((m) => lines(m).some((l) => l['msg'] === 'TaskExecutor registered' && l['taskExecutor'] === spareId)), { timeoutMs: 15_000 });
    return { output };
  }

  async function finishedExactlyOnce(output: string, records: number): Promise<Line> {
    const result = await waitFor('the job result', () => events(job!, 'result')[0], { timeoutMs: 60_000 });
    assert.equal(result['state'], 'finished', JSON.stringify(result));
    assert.deepEqual(checkExactlyOnce(output, records, KEYS), []);
    return result;
  }

  /** The Master that leads now: granted last, not revoked since. */
  const leading = (c: NetnsHaCluster): Proc | undefined => c.masters.find((m) => (loggedAt(m, 'leadership granted')[0] ?? 0) > (loggedAt(m, 'leadership revoked')[0] ?? 0));

  it("the leader's host cut off: the majority elects a new leader, the old one steps down first and rejoins after the heal; exactly once", async () => {
    // Each Master on its host's etcd member: with every endpoint, a standby's etcd client keeps
    // calling the cut member and is elected 5-6 s after the cut (see netns-ha.ts).
    const c = await start({ mastersUseLocalEtcd: true });
    const records = 25_000;
    const { output } = await submit(records);
    const leader = await waitFor('a leading Master', () => leading(c), { timeoutMs: 20_000 });
    // etcd's own leader elsewhere: what is measured is our election (a cut etcd leader adds etcd's election, ~1-2 s, and the lease extension of one election timeout).
    await c.moveEtcdLeaderAwayFrom(c.hostOf(leader));
    const cutAt = Date.now();
    const cut = await hosts.net.isolate(c.hostOf(leader));

    const next = await waitFor('a new leader on the majority side', () => c.masters.find((m) => m !== leader && (loggedAt(m, 'leadership granted')[0] ?? 0) > cutAt), { timeoutMs: 15_000 });
    const grantedAt = loggedAt(next, 'leadership granted')[0]!;
    const revokedAt = await waitFor('the isolated leader stepped down', () => loggedAt(leader, 'leadership revoked').find((t) => t > cutAt), { timeoutMs: 15_000 });
    // Safety, not speed: never two acting leaders. (How fast is the bench's to measure; the
    // target is the lease TTL + 1 s, and the figures are printed here for the record.)
    assert.ok(revokedAt < grantedAt, 'the isolated leader still led when the new one was granted');
    console.log(`      leader cut off: stepped down after ${revokedAt - cutAt} ms, new leader after ${grantedAt - cutAt} ms (lease TTL ${LEASE_TTL_MS} ms)`);

    const healingAt = Date.now();
    await cut.heal();
    const healedAt = Date.now();
    type Answer = { rest: string; isLeader: boolean | null; leader: string | null };
    const answers = (): Answer[] => {
      const last = events(job!, 'masters').at(-1);
      return Number(last?.['time']) > healedAt ? (last!['masters'] as Answer[]) : [];
    };
    // After the heal the old leader rejoins: as a standby of the current leader, or as the leader
    // of a later term (when the majority's leader lost its lease meanwhile): never of its old one.
    await waitFor('every Master agreeing on one leader after the heal', () => {
      const now = answers();
      const leading = now.filter((a) => a.isLeader === true);
      const current = c.masters.find((m) => m.ready['rest'] === leading[0]?.rest);
      const old = now.find((a) => a.rest === leader.ready['rest']);
      return (
        now.length === c.masters.length &&
        leading.length === 1 &&
        current !== undefined &&
        old !== undefined &&
        now.every((a) => a.isLeader === true || a.leader === current.ready['node'])
      );
    }, { timeoutMs: 20_000 }).catch((err: Error) => {
      throw new Error(`${err.message}; the Masters answer: ${JSON.stringify(answers())}`);
    });
    assert.deepEqual(loggedAt(leader, 'leadership granted').filter((t) => t > cutAt && t < healingAt), [], 'the isolated leader led while cut off');
    await finishedExactlyOnce(output, records);
  });
  /** The TaskExecutor (not the spare) that runs part of the job, and the spare's id. */
  function victimOf(c: NetnsHaCluster): { victim: Proc; victimId: string; spareId: string } {
    const running = events(job!, 'status').find((s) => Number(s['checkpoints']) > 0 && (s['taskExecutors'] as string[]).length === 2)!['taskExecutors'] as string[];
    const spareId = String(c.taskExecutors[2]!.ready['taskExecutorId']);
    assert.ok(!running.includes(spareId), `the spare ${spareId} runs the job from the start: ${running.join(', ')}`);
    const victimId = running[0]!;
    return { victim: c.taskExecutors.find((p) => p.ready['taskExecutorId'] === victimId)!, victimId, spareId };
  }

  /** Once the job runs again, after `since`, on the spare and without `victimId`. */
  const runningOnSpare = (since: number, victimId: string, spareId: string): Promise<Line> =>
    waitFor('the job running again on the spare', () =>
      events(job!, 'status').find((s) => {
        const tes = (s['taskExecutors'] as string[] | undefined) ?? [];
        return Number(s['time']) > since && s['state'] === 'running' && Number(s['attempt']) > 0 && tes.includes(spareId) && !tes.includes(victimId);
      }), { timeoutMs: 20_000 });

  it("a TaskExecutor's host cut off: its subtasks restart on the spare; after the heal its stale tasks are canceled and commit nothing", async () => {
    const c = await start();
    const records = 25_000;
    const { output } = await submit(records);
    const { victim, victimId, spareId } = victimOf(c);
    const cutAt = Date.now();
    const cut = await hosts.net.isolate(c.hostOf(victim));
    await runningOnSpare(cutAt, victimId, spareId);
    // Cut off, it loses the ResourceManager and cancels what it ran for the job.
    await waitFor('the cut TaskExecutor dropped its tasks', () => lines(victim).some((l) => l['msg'] === 'ResourceManager lost' && Number(l['time']) > cutAt), { timeoutMs: 20_000 });
    await cut.heal();
    const healedAt = Date.now();
    await waitFor('the healed TaskExecutor registered again', () => lines(victim).some((l) => l['msg'] === 'registered' && Number(l['time']) > healedAt), { timeoutMs: 20_000 });
    await finishedExactlyOnce(output, records);
  });

  it("a TaskExecutor's host killed, disk included: the job recovers on the other hosts, exactly once", async () => {
    const c = await start();
    const records = 25_000;
    const { output } = await submit(records);
    const { victim, victimId, spareId } = victimOf(c);
    const host = c.hostOf(victim);
    const killedAt = Date.now();
    await host.kill();
    assert.equal(existsSync(host.dataDir), false, "the host's disk is gone");
    await runningOnSpare(killedAt, victimId, spareId);
    const result = await finishedExactlyOnce(output, records);
    assert.notEqual(result['restoredFrom'], null, 'the job resumed from a checkpoint');
  });
});
