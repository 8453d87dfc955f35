import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runDrill } from '../../scripts/drill/drill.js';
import { killAll } from '../support/launcher.js';

describe('drill - a short failover drill', function () {
  this.timeout(240_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'drill-'));
  after(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('survives a leader kill, a TaskExecutor kill and an etcd member kill with exactly-once output and one leader at a time', async () => {
    const report = await runDrill({
      faults: 3,
      kinds: ['leader-kill', 'te-kill', 'etcd-kill'],
      seed: 3,
      intervalMs: 1000,
      leaseTtlSeconds: 3,
      taskExecutors: 3,
      report: path.join(dir, 'report.json'),
    });
    assert.equal(report.faults.length, 3);
    assert.ok(report.exactlyOnce.ok, report.exactlyOnce.problems.join('\n'));
    assert.ok(report.leaders.ok, report.leaders.overlaps.join('\n'));
    assert.ok(report.leaders.actions > 0, 'the audit saw fenced actions');
    assert.equal(JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')).ok, true);
  });
});
