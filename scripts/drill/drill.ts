/**
 * The failover drill: start a local HA cluster (three etcd members, three Masters, TaskExecutors
 * with a spare), run a stateful job whose output can be checked exactly, inject a seeded
 * schedule of faults, measure each, and check at the end that the output is exactly once and
 * that no two leaders acted in the same period (from the audit of fenced actions in the
 * Masters' logs). Prints a table and writes a JSON report.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkExactlyOnce } from '../support/exactly-once.js';
import { distRoot } from '../support/launcher.js';
import { startHaCluster } from '../support/local-ha.js';
import { waitFor } from '../support/wait.js';
import { actionsFromLog, overlaps } from './audit.js';
import { FaultKinds, inject, type DrillContext, type FaultKind, type FaultOutcome } from './faults.js';
import { pick, seededRandom } from './random.js';

export interface DrillOptions {
  faults: number;
  kinds: FaultKind[];
  seed: number;
  intervalMs: number;
  report: string;
  leaseTtlSeconds: number;
  taskExecutors: number;
  /** Progress lines; the CLI prints them. */
  log?: (line: string) => void;
}

export interface DrillReport {
  seed: number;
  faults: FaultOutcome[];
  job: { jobId: string; state: string; records: number; restarts: number };
  exactlyOnce: { ok: boolean; problems: string[] };
  leaders: { ok: boolean; actions: number; overlaps: string[] };
  ok: boolean;
  durationMs: number;
}

export const drillDefaults: Omit<DrillOptions, 'log'> = {
  faults: 4,
  kinds: [...FaultKinds],
  seed: 1,
  intervalMs: 3000,
  report: 'drill-report.json',
  leaseTtlSeconds: 3,
  taskExecutors: 3,
};

export async function runDrill(options: DrillOptions): Promise<DrillReport> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const random = seededRandom(options.seed);
  const schedule = Array.from({ length: options.faults }, () => pick(random, options.kinds));
  log(`drill: seed ${options.seed}, faults: ${schedule.join(', ') || 'none'}`);
  log('starting a local HA cluster: 3 etcd members, 3 Masters, ' + `${options.taskExecutors} TaskExecutors × 2 slots`);
  const cluster = await startHaCluster({
    etcdMembers: 3,
    masters: 3,
    taskExecutors: options.taskExecutors,
    slots: 2,
    env: { FLINKISH_LEASE_TTL_SECONDS: String(options.leaseTtlSeconds) },
  });
  try {
    const client = await cluster.client();
    await waitFor('a leader', () => cluster.leader(client), { timeoutMs: 30_000 });
    // Sized so that the job outlives the schedule; the source paces itself.
    const recordsPerSecond = 2000;
    const records = Math.max(10_000, Math.ceil(((options.faults * (options.intervalMs + 4000) + 8000) / 1000) * recordsPerSecond));
    const keys = 16;
    const output = path.join(cluster.workDir, 'drill-output');
    const jobId = await client.submitFile(path.join(distRoot, 'scripts', 'jobs', 'keyed-count.js'), {
      parallelism: 2,
      args: { records, keys, output, recordsPerSecond, checkpointMs: 250 },
    });
    log(`job ${jobId}: ${records} records over ${keys} keys, exactly-once file sink`);
    const ctx: DrillContext = { cluster, client, jobId, leaseTtlMs: options.leaseTtlSeconds * 1000, log };
    const outcomes: FaultOutcome[] = [];
    for (const [i, kind] of schedule.entries()) {
      await waitFor('the job to run and checkpoint', async () => {
        const d = await client.status(jobId);
        return d.state === 'running' && d.subtasks.every((s) => s.state === 'running') && d.checkpoints.some((c) => c.status === 'completed');
      }, { timeoutMs: 60_000 });
      await waitFor('the interval', () => Date.now() - (outcomes.at(-1)?.at ?? 0) >= options.intervalMs, { timeoutMs: options.intervalMs + 1000, intervalMs: 50 });
      log(`fault ${i + 1}/${schedule.length}: ${kind}`);
      const outcome = await inject(kind, ctx);
      outcomes.push(outcome);
      log(`  detected ${fmt(outcome.detectionMs)}, new leader ${fmt(outcome.newLeaderMs)}, running again ${fmt(outcome.runningAgainMs)}${outcome.note ? ` (${outcome.note})` : ''}`);
    }
    log('waiting for the job to finish');
    const result = await client.waitForResult(jobId);
    const problems = checkExactlyOnce(output, records, keys);
    const actions = cluster.masters.flatMap((m) => actionsFromLog(m.name, m.output));
    const leaderOverlaps = overlaps(actions);
    const report: DrillReport = {
      seed: options.seed,
      faults: outcomes,
      job: { jobId, state: result.state, records, restarts: result.details.restarts },
      exactlyOnce: { ok: problems.length === 0 && result.state === 'finished', problems },
      leaders: { ok: leaderOverlaps.length === 0, actions: actions.length, overlaps: leaderOverlaps },
      ok: problems.length === 0 && result.state === 'finished' && leaderOverlaps.length === 0,
      durationMs: Date.now() - started,
    };
    writeFileSync(options.report, JSON.stringify(report, null, 2) + '\n');
    return report;
  } finally {
    await cluster.stop();
  }
}

export function formatReport(report: DrillReport): string {
  const rows = report.faults.map((f, i) => [String(i + 1), f.kind, f.target, fmt(f.detectionMs), fmt(f.newLeaderMs), fmt(f.runningAgainMs), f.note ?? '']);
  const header = ['#', 'fault', 'target', 'detection', 'new leader', 'running again', 'note'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
  return [
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    '',
    `job: ${report.job.state}, ${report.job.restarts} restarts`,
    `exactly once: ${report.exactlyOnce.ok ? 'yes' : `NO — ${report.exactlyOnce.problems.slice(0, 3).join('; ')}`}`,
    `one leader at a time: ${report.leaders.ok ? `yes (${report.leaders.actions} fenced actions audited)` : `NO — ${report.leaders.overlaps.slice(0, 3).join('; ')}`}`,
    `verdict: ${report.ok ? 'PASS' : 'FAIL'} in ${(report.durationMs / 1000).toFixed(1)} s`,
  ].join('\n');
}

function fmt(ms: number | null): string {
  return ms === null ? '-' : `${ms} ms`;
}
