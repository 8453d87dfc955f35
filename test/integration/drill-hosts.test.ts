/**
 * The drill across namespace hosts (`flinkish drill --hosts N`): one short schedule with every
 * fault only several hosts have, on real etcd members, Masters and TaskExecutors in their own
 * namespaces. Checks what the drill promises: the output is exactly once, no two leaders acted
 * in the same period (the audit), every fault has its time without a leader and its longest
 * output gap, and nothing of the run is left behind.
 * Needs root, `ip` and `nft`: without them the drill fails with the reason (never a skip).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatReport, runDrill, type DrillReport } from '../../scripts/drill/drill.js';
import { HostFaultKinds } from '../../scripts/drill/faults.js';
import { killAll } from '../support/launcher.js';
import { listOurNamespaces } from '../support/netns-hosts.js';

describe('drill-hosts - the drill across namespace hosts', function () {
  this.timeout(240_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'drill-hosts-'));
  after(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('survives a partitioned leader, TaskExecutor and etcd member, a one-way partition and a host kill: exactly once, one leader at a time, gaps reported', async () => {
    const file = path.join(dir, 'report.json');
    const report = await runDrill({
      hosts: 7,
      schedule: [...HostFaultKinds],
      faults: HostFaultKinds.length,
      kinds: [...HostFaultKinds],
      seed: 1,
      intervalMs: 500,
      leaseTtlSeconds: 3,
      taskExecutors: 3,
      report: file,
    });
    assert.equal(report.failure, null, `${JSON.stringify(report.failure)}; logs of every process in ${report.logsDir}`);
    assert.deepEqual(report.cluster, { kind: 'hosts', hosts: 7 });
    assert.deepEqual(report.faults.map((f) => f.kind), [...HostFaultKinds]);
    assert.ok(report.exactlyOnce.ok, `${report.exactlyOnce.problems.join('\n')}; logs in ${report.logsDir}`);
    assert.ok(report.leaders.ok, `${report.leaders.overlaps.join('\n')}; logs in ${report.logsDir}`);
    assert.ok(report.leaders.actions > 0, 'the audit saw fenced actions');
    assert.equal(report.job?.state, 'finished');

    for (const f of report.faults) {
      assert.equal(typeof f.withoutLeaderMs, 'number', `${f.kind}: time without a leader`);
      assert.equal(typeof f.longestOutputGapMs, 'number', `${f.kind}: longest output gap`);
    }
    const byKind = Object.fromEntries(report.faults.map((f) => [f.kind, f]));
    // The leader cut off: no Master leads from the cut until the majority's election.
    assert.ok(byKind['partition-leader']!.withoutLeaderMs! > 0, JSON.stringify(byKind['partition-leader']));
    // A TaskExecutor cut off or dead: the job restarts, so its output stalls longer than its checkpoint interval (250 ms).
    for (const kind of ['partition-te', 'host-kill']) assert.ok(byKind[kind]!.longestOutputGapMs! > 250, JSON.stringify(byKind[kind]));

    const written = JSON.parse(readFileSync(file, 'utf8')) as DrillReport;
    assert.deepEqual(written.faults.map((f) => [f.withoutLeaderMs, f.longestOutputGapMs]), report.faults.map((f) => [f.withoutLeaderMs, f.longestOutputGapMs]));
    const table = formatReport(report);
    for (const column of ['no leader', 'output gap']) assert.match(table, new RegExp(column));
    assert.equal(report.logsDir, null, 'a drill that passed removes its cluster directory');
    assert.deepEqual((await listOurNamespaces()).filter((n) => n.startsWith(`fkh-${process.pid}.`)), [], 'every namespace of the run is deleted');
  });
});
