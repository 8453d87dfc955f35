import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runDrill, type DrillReport } from '../../scripts/drill/drill.js';
import { FaultKinds } from '../../scripts/drill/faults.js';
import { killAll } from '../support/launcher.js';

describe('drill - failover drills', function () {
  this.timeout(420_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'drill-'));
  const kept: string[] = [];
  after(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
    for (const logs of kept) rmSync(path.dirname(logs), { recursive: true, force: true });
  });

  it('survives 5 faults of every kind with exactly-once output, one leader at a time, and attempts that never go back', async () => {
    const report = await runDrill({
      // Seed 42: te-kill, leader-pause, etcd-kill, te-kill, leader-kill (every kind, and a
      // TaskExecutor kill right after an adoption). `flinkish drill --faults 24` is the long run.
      faults: 5,
      kinds: [...FaultKinds],
      seed: 42,
      intervalMs: 500,
      leaseTtlSeconds: 3,
      taskExecutors: 3,
      report: path.join(dir, 'report.json'),
    });
    // A failed drill keeps its cluster's directory for the reader: named here, not removed.
    assert.equal(report.failure, null, `${JSON.stringify(report.failure)}; logs of every process in ${report.logsDir}`);
    assert.equal(report.faults.length, 5);
    for (const kind of FaultKinds) assert.ok(report.faults.some((f) => f.kind === kind), `the schedule injects ${kind}`);
    assert.ok(report.exactlyOnce.ok, `${report.exactlyOnce.problems.join('\n')}; logs in ${report.logsDir}`);
    assert.ok(report.leaders.ok, `${report.leaders.overlaps.join('\n')}; logs in ${report.logsDir}`);
    assert.ok(report.leaders.actions > 0, 'the audit saw fenced actions');
    // A TaskExecutor kill restarts the job; a leader fault does not: the new leader adopts its tasks.
    const restarts = report.faults.filter((f) => f.kind === 'te-kill').length;
    assert.ok(report.job!.attempt >= restarts, `attempt ${report.job!.attempt} after ${restarts} faults that restart the job`);
    const leaderFaults = report.faults.filter((f) => f.kind === 'leader-kill' || f.kind === 'leader-pause');
    assert.deepEqual(leaderFaults.filter((f) => f.jobRestarted !== false), [], 'no job restart for a leader fault');
    assert.equal(report.logsDir, null, 'a drill that passed removes its cluster directory');
    assert.equal((JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')) as DrillReport).ok, true);
  });

  it('writes its report and keeps every process log when it finds a failure', async () => {
    // No TaskExecutor: the job can never run, so the first fault's wait fails.
    const file = path.join(dir, 'failed.json');
    const report = await runDrill({
      faults: 1,
      kinds: ['te-kill'],
      seed: 1,
      intervalMs: 100,
      leaseTtlSeconds: 3,
      taskExecutors: 0,
      runTimeoutMs: 1000,
      report: file,
    });
    assert.ok(report.logsDir, 'the logs are kept');
    kept.push(report.logsDir); // this failure is the one the test asked for
    assert.equal(report.ok, false);
    assert.match(report.failure!.during, /before fault 1\/1/);
    assert.match(report.failure!.message, /timed out after 1000 ms/);
    const written = JSON.parse(readFileSync(file, 'utf8')) as DrillReport;
    assert.deepEqual({ ok: written.ok, failure: written.failure, logsDir: written.logsDir }, { ok: false, failure: report.failure, logsDir: report.logsDir });
    const logs = readdirSync(report.logsDir);
    for (const name of ['master-1.log', 'master-2.log', 'master-3.log']) {
      assert.ok(logs.includes(name), `${name} in ${logs.join(', ')}`);
      assert.ok(readFileSync(path.join(report.logsDir, name), 'utf8').includes('"ready":true'), `${name} holds the process's output`);
    }
    assert.ok(logs.some((name) => name.startsWith('etcd')), 'etcd members too');
    assert.ok(existsSync(report.logsDir));
  });
});
