/**
 * `flinkish drill --cluster FILE` against a cluster that is already running on namespace hosts:
 * h0 runs the etcd launcher and the drill (the test process reaches no host address); h1..h3
 * an etcd member and a Master each; h4..h6 a TaskExecutor with 2 slots each; a `flinkish agent`
 * on each of h1..h6. The test writes the cluster file from what the processes announced, runs
 * the drill with each kind below once (the agents start nothing, so 3 Masters and 3 × 2 slots
 * leave room for every kill), and checks its report: every fault recovered, exactly-once output,
 * no two leaders acting at once, each fault's time without a leader and longest output gap, and
 * no partition rule left behind.
 * Needs root, `ip` and `nft`: without them the `before` hook fails with the reason.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { etcdCredentialEnv } from '../../lib/ha/etcd-auth.js';
import type { DrillReport } from '../../scripts/drill/drill.js';
import type { FaultKind } from '../../scripts/drill/faults.js';
import { pick, seededRandom } from '../../scripts/drill/random.js';
import { startNetnsHaCluster, type NetnsHaCluster } from '../../scripts/support/netns-ha.js';
import { distRoot, killAll, type Proc } from '../support/launcher.js';
import { useNetnsHosts, type NetnsHost } from '../support/netns-hosts.js';
import { waitFor } from '../support/wait.js';

/**
 * What goes through the agents: a TaskExecutor and a leader killed by their host's agent, the
 * leader's host cut off and a one-way cut by the agents' nftables rules. (Pauses, a busy
 * TaskExecutor's host cut off and an etcd member's are drilled locally and across --hosts, by the
 * same fault code: drill.test.ts, drill-hosts.test.ts.)
 */
const KINDS: FaultKind[] = ['te-kill', 'leader-kill', 'partition-leader', 'one-way-partition'];

/** The first seed whose schedule of one fault per kind injects each kind once (the drill's own PRNG). */
function seedWithEachKindOnce(): number {
  for (let seed = 1; ; seed++) {
    const random = seededRandom(seed);
    const schedule = KINDS.map(() => pick(random, KINDS));
    if (new Set(schedule).size === KINDS.length) return seed;
  }
}

describe('drill --cluster - a running cluster drilled through its hosts’ agents', function () {
  this.timeout(180_000);
  const hosts = useNetnsHosts(7);
  let cluster: NetnsHaCluster | undefined;
  const agents: Proc[] = [];

  let failed = false;
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });
  after(async function () {
    this.timeout(30_000);
    await cluster?.stop({ keepWorkDir: failed });
    if (failed && cluster) console.error(`logs kept in ${cluster.logsDir}`);
    await killAll();
  });

  it('injects kills, a pause and partitions through the agents, and the report says exactly once, one leader at a time, with each fault’s figures', async () => {
    const [control, m1, m2, m3, t1, t2, t3] = hosts.net.hosts as NetnsHost[];
    cluster = await startNetnsHaCluster({
      control: control!,
      etcdHosts: [m1!, m2!, m3!],
      masterHosts: [m1!, m2!, m3!],
      taskExecutorHosts: [t1!, t2!, t3!],
      slots: 2,
      env: { FLINKISH_LEASE_TTL_SECONDS: '3', FLINKISH_METRICS_PORT: '-1' },
    });
    const clusterId = cluster.env['FLINKISH_CLUSTER_ID']!;
    const secrets = { FLINKISH_SECRET: cluster.env['FLINKISH_SECRET']!, FLINKISH_CLIENT_SECRET: cluster.env['FLINKISH_CLIENT_SECRET']! };
    const agentHosts = [m1!, m2!, m3!, t1!, t2!, t3!];
    for (const host of agentHosts) {
      agents.push(await host.launch('scripts/cli.js', { args: ['agent', '--host', host.address, '--port', '0'], env: { FLINKISH_SECRET: secrets.FLINKISH_SECRET, FLINKISH_CLUSTER_ID: clusterId }, name: 'agent' }));
    }
    /** The cluster file of the processes running now (those the drill killed are gone). */
    const writeClusterFile = (name: string): string => {
      const c = cluster!;
      const hostsOfFile = agentHosts.map((host, i) => ({
        name: host.name,
        agent: String(agents[i]!.ready['node']),
        processes: [
          ...c.masters.filter((m) => m.running && c.hostOf(m) === host).map((m) => ({ role: 'master', address: String(m.ready['node']), logFile: m.logFile })),
          ...c.taskExecutors.filter((t) => t.running && c.hostOf(t) === host).map((t) => ({ role: 'taskexecutor', id: String(t.ready['taskExecutorId']), address: String(t.ready['node']), logFile: t.logFile })),
          ...c.etcd.endpoints.filter((u) => new URL(u).hostname === host.address).map((u) => ({ role: 'etcd', address: new URL(u).host })),
        ],
      }));
      const file = path.join(c.workDir, name);
      writeFileSync(file, JSON.stringify({ cluster: { clusterId, etcdEndpoints: c.etcd.endpoints, leaseTtlSeconds: 3 }, outputDir: c.workDir, hosts: hostsOfFile }, null, 2));
      return file;
    };
    const file = writeClusterFile('drill-cluster.json');
    /** Whether any agent holds a partition rule now. */
    const anyRule = async (): Promise<boolean> => {
      for (const host of agentHosts) {
        for (const set of ['from4', 'to4']) if ((await host.exec('nft', ['list', 'set', 'inet', 'flinkish_agent', set])).includes('elements')) return true;
      }
      return false;
    };

    const reportFile = path.join(cluster.workDir, 'drill-report.json');
    const drill = await control!.launch('scripts/cli.js', {
      args: ['drill', '--cluster', file, '--kinds', KINDS.join(','), '--faults', String(KINDS.length), '--seed', String(seedWithEachKindOnce()), '--interval-ms', '500', '--report', reportFile],
      // Only the secrets and etcd's credentials: which cluster, and where, is the file's to say.
      env: { ...secrets, ...etcdCredentialEnv(cluster.etcd) },
      readyWhen: (line) => line.startsWith('drill: seed'),
      readyTimeoutMs: 30_000,
      name: 'drill',
    });
    await drill.waitForExit(150_000).catch((err: Error) => {
      throw new Error(`${err.message}:\n${drill.tail(40)}\nlogs in ${cluster!.logsDir}`);
    });
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as DrillReport;
    const context = `\n${drill.tail(40)}\nlogs in ${cluster.logsDir}`;
    assert.equal(report.failure, null, `${JSON.stringify(report.failure)}${context}`);
    assert.deepEqual([...report.faults.map((f) => f.kind)].sort(), [...KINDS].sort());
    for (const fault of report.faults) {
      assert.notEqual(fault.runningAgainMs, null, `${fault.kind}: the job ran again${context}`);
      // The figures the drill takes from what the cluster left: the Masters' logs, the shared output.
      assert.equal(typeof fault.withoutLeaderMs, 'number', `${fault.kind}: time without a leader`);
      assert.equal(typeof fault.longestOutputGapMs, 'number', `${fault.kind}: longest output gap`);
    }
    assert.ok(report.faults.find((f) => f.kind === 'partition-leader')!.withoutLeaderMs! > 0, JSON.stringify(report.faults));
    assert.equal(report.cluster.kind, 'cluster');
    assert.ok(report.faults.find((f) => f.kind === 'leader-kill')!.newLeaderMs! > 0);
    assert.ok(report.exactlyOnce.ok, `${report.exactlyOnce.problems.join('\n')}${context}`);
    assert.ok(report.leaders.ok, `${report.leaders.overlaps.join('\n')}${context}`);
    assert.ok(report.leaders.actions > 0, 'the audit saw fenced actions');
    assert.equal(report.job!.state, 'finished');
    assert.ok(report.ok);
    assert.equal(drill.exitCode, 0, context);
    // For the record (speed is the bench's to judge): what each fault cost.
    for (const f of report.faults) console.log(`      ${f.kind} (${f.target}): detected ${f.detectionMs ?? '-'} ms, new leader ${f.newLeaderMs ?? '-'} ms, running again ${f.runningAgainMs} ms, no leader ${f.withoutLeaderMs} ms, output gap ${f.longestOutputGapMs} ms; ${f.note ?? ''}`);
    assert.equal(await anyRule(), false, 'the drill healed what it cut');

    // Operator errors come before any fault, naming what is wrong: the same file again (the
    // Master and TaskExecutor it killed are gone: the agents start nothing), and a wrong secret.
    const drillAgain = (secret: string) =>
      control!.exec('env', [...Object.entries({ ...secrets, FLINKISH_SECRET: secret, ...etcdCredentialEnv(cluster!.etcd) }).map(([k, v]) => `${k}=${v}`), process.execPath, path.join(distRoot, 'scripts', 'cli.js'), 'drill', '--cluster', file, '--report', reportFile]);
    const killed = report.faults.filter((f) => f.kind === 'leader-kill' || f.kind === 'te-kill').map((f) => f.target.split(' ')[0]!);
    await assert.rejects(drillAgain(secrets.FLINKISH_SECRET), (err: Error) => /DRILL_CLUSTER_FILE_INVALID.*its agent lists no flinkish process listening on/.test(err.message) && killed.some((t) => err.message.includes(t) || err.message.includes('listening on')));
    await assert.rejects(drillAgain('not-the-node-secret-0123456789'), /AUTH_FAILED.*node secret/);

    // Interrupted while the leader's host is cut off, the drill heals before it exits.
    const interrupted = await control!.launch('scripts/cli.js', {
      args: ['drill', '--cluster', writeClusterFile('drill-cluster-live.json'), '--kinds', 'partition-leader', '--faults', '1', '--interval-ms', '500', '--report', path.join(cluster.workDir, 'interrupted.json')],
      env: { ...secrets, ...etcdCredentialEnv(cluster.etcd) },
      readyWhen: (line) => line.startsWith('fault 1/1: partition-leader'),
      readyTimeoutMs: 60_000,
      name: 'interrupted drill',
    });
    await waitFor('the cut installed', () => anyRule(), { timeoutMs: 15_000 });
    interrupted.kill('SIGINT');
    await interrupted.waitForExit(20_000);
    assert.equal(interrupted.exitCode, 130, interrupted.tail());
    assert.equal(await anyRule(), false, 'healed on SIGINT');
    // Its job runs on alone, no longer paced for the faults that will not come.
    const unpaced = readdirSync(cluster.workDir, { withFileTypes: true }).filter((d) => d.isDirectory() && existsSync(path.join(cluster!.workDir, d.name, '_unpaced')));
    assert.equal(unpaced.length, 1, `the interrupted drill's output directory holds _unpaced: ${interrupted.tail()}`);
  });

  it('refuses a cluster file that does not describe a cluster, and faults its agents cannot inject, before touching anything', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'drill-cluster-'));
    try {
      const bad = path.join(dir, 'bad-cluster.json');
      writeFileSync(bad, JSON.stringify({ cluster: { clusterId: 'x', etcdEndpoints: ['http://198.18.0.2:2379'] }, outputDir: dir, hosts: [{ name: 'a', agent: '198.18.0.2', processes: [] }] }));
      const run = (args: string[]) =>
        new Promise<{ code: number | null; stderr: string }>((resolve) => {
          execFile(process.execPath, [path.join(distRoot, 'scripts', 'cli.js'), ...args], { cwd: dir, timeout: 20_000 }, (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }));
        });
      const invalid = await run(['drill', '--cluster', bad]);
      assert.equal(invalid.code, 1);
      assert.match(invalid.stderr, /DRILL_CLUSTER_FILE_INVALID.*hosts\[0\]\.agent: must be host:port/);
      assert.match((await run(['drill', '--cluster', bad, '--kinds', 'etcd-kill,host-kill'])).stderr, /INVALID_ARGUMENT.*etcd-kill, host-kill: not available with --cluster/);
      assert.match((await run(['drill', '--kinds', 'partition-te'])).stderr, /INVALID_ARGUMENT.*partition-te needs a cluster on several hosts: add --hosts 7 .*--cluster FILE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
