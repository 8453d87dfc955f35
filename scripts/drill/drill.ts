/**
 * The failover drill: start an HA cluster (three etcd members, three Masters, TaskExecutors
 * with a spare), locally or across namespace hosts (`hosts`), run a stateful job whose output
 * can be checked exactly, inject a seeded schedule of faults, measure each, and check at the end
 * that the output is exactly once and that no two leaders acted in the same period (from the
 * audit of fenced actions in the Masters' logs). Prints a table and writes a JSON report, also
 * when the drill fails (then the cluster's directory, with every process's log, is kept).
 * Where the cluster runs is the {@link DrillTarget}'s; this one code path drives any of them,
 * also a cluster that is already running, whose faults go through its hosts' agents
 * (agent-target.ts, `drill --cluster FILE`).
 */
import { writeFileSync } from 'node:fs';
import { RuntimeError } from '../../lib/errors.js';
import { DrillErrorCode } from './errors.js';
import path from 'node:path';
import { checkExactlyOnce } from '../support/exactly-once.js';
import { unpace, unpacedFileOf } from '../support/unpace.js';
import type { JobResult } from '../../actors/jobmaster/status.js';
import { distRoot } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';
import { actionsFromLog, overlaps, taskFenceAudit } from './audit.js';
import { FaultNeeds, inject, LeaderFaultKinds, type DrillContext, type FaultKind, type FaultMeasure, type FaultOutcome } from './faults.js';
import { HOSTS_JOB_PARALLELISM, startHostsTarget } from './hosts-target.js';
import { startLocalTarget } from './local-target.js';
import { defaultKinds, validateDrillOptions } from './options.js';
import { pick, seededRandom } from './random.js';
import { capabilitiesOf, type DrillTarget } from './target.js';
import { commitTimes, leaderTerms, longestOutputGap, timeWithoutLeader } from './timeline.js';

export interface DrillOptions {
  faults: number;
  kinds: FaultKind[];
  seed: number;
  intervalMs: number;
  report: string;
  leaseTtlSeconds: number;
  taskExecutors: number;
  /** These faults in this order instead of a seeded pick of `faults` among `kinds`. */
  schedule?: FaultKind[];
  /** Run across this many namespace hosts (needs root) instead of locally. */
  hosts?: number;
  /**
   * Drill a cluster that is already running instead (`--cluster FILE`): starts its target
   * (agent-target.ts), called once the options are checked.
   */
  cluster?: { start(): Promise<DrillTarget> };
  /** How long the job may take to run again before a fault (default 60 s). */
  runTimeoutMs?: number;
  /** Progress lines; the CLI prints them. */
  log?: (line: string) => void;
}

export interface DrillReport {
  seed: number;
  /** Where the cluster ran: `local`, `hosts` with their number, or `cluster` (a running one). */
  cluster: { kind: string; hosts: number | null };
  faults: FaultOutcome[];
  /** The job, once submitted; `state` is `running` if the drill stopped before it ended. */
  job: { jobId: string; state: string; records: number; restarts: number; attempt: number } | null;
  exactlyOnce: { ok: boolean; problems: string[] };
  /** Masters' fenced actions never overlapping, and TaskExecutors never taking an older session on after a newer one. */
  leaders: { ok: boolean; actions: number; overlaps: string[]; staleCommandsRefused?: number };
  /** What stopped the drill before its end (a fault that did not recover, a deadline), if anything. */
  failure: { during: string; message: string } | null;
  /** Where every process's log was kept (the drill failed), or null (passed: the cluster's directory is removed). */
  logsDir: string | null;
  ok: boolean;
  durationMs: number;
}

export const drillDefaults: Omit<DrillOptions, 'log'> = {
  faults: 4,
  kinds: defaultKinds(undefined),
  seed: 1,
  intervalMs: 3000,
  report: 'drill-report.json',
  leaseTtlSeconds: 3,
  taskExecutors: 3,
};

/** How long a fault may take to recover from, in the worst case we plan the job's length for (partitions are held for a lease or more). */
const PLANNED_MS_PER_FAULT = { local: 4000, hosts: 9000 };

/**
 * Run the drill. Whatever happens once the cluster is up, the report is written: a failure
 * (a fault the cluster did not recover from, a deadline) is in it with `ok: false`, and then
 * the cluster's directory with every process's log is kept and named in `logsDir`.
 */
export async function runDrill(options: DrillOptions): Promise<DrillReport> {
  validateDrillOptions({ ...options, cluster: options.cluster !== undefined, kinds: options.schedule ?? options.kinds });
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const random = seededRandom(options.seed);
  const schedule = options.schedule ?? Array.from({ length: options.faults }, () => pick(random, options.kinds));
  log(`drill: seed ${options.seed}, faults: ${schedule.join(', ') || 'none'}`);
  const target = await startTarget(options);
  // What the options allowed, the target must have (a custom or misdescribed target is refused here, before any fault).
  const capabilities = capabilitiesOf(target);
  const lacking = [...new Set(schedule)].filter((k) => !FaultNeeds[k].every((c) => capabilities.has(c)));
  if (lacking.length > 0) {
    await target.stop().catch(() => undefined);
    target.finish(true);
    throw new RuntimeError(DrillErrorCode.FaultUnavailable, `drill: a ${target.kind} drill cannot inject ${lacking.join(', ')}`, { details: { lacking } });
  }
  log(`drilling ${target.description}`);
  const outcomes: FaultMeasure[] = [];
  // Sized so that the job outlives the schedule; the source paces itself.
  const recordsPerSecond = 2000;
  const records = Math.max(10_000, Math.ceil(((schedule.length * (options.intervalMs + PLANNED_MS_PER_FAULT[target.kind === 'local' ? 'local' : 'hosts']) + 8000) / 1000) * recordsPerSecond));
  const keys = 16;
  const output = target.outputDir;
  let job: DrillReport['job'] = null;
  let result: JobResult | null = null;
  let failure: DrillReport['failure'] = null;
  let step = 'submitting the job';
  let endedAt: number | null = null;
  try {
    const client = target.client;
    await waitFor('a leader', () => target.leader(), { timeoutMs: 30_000 });
    const jobId = await client.submitFile(path.join(distRoot, 'scripts', 'jobs', 'keyed-count.js'), {
      parallelism: HOSTS_JOB_PARALLELISM,
      args: { records, keys, output, recordsPerSecond, checkpointMs: 250, unpacedBy: unpacedFileOf(output) },
    });
    job = { jobId, state: 'running', records, restarts: 0, attempt: 0 };
    log(`job ${jobId}: ${records} records over ${keys} keys, exactly-once file sink`);
    const ctx: DrillContext = { target, client, jobId, leaseTtlMs: options.leaseTtlSeconds * 1000, log };
    for (const [i, kind] of schedule.entries()) {
      step = `waiting for the job to run before fault ${i + 1}/${schedule.length} (${kind})`;
      await waitFor('the job to run and checkpoint', async () => {
        const d = await client.status(jobId);
        return d.state === 'running' && d.subtasks.every((s) => s.state === 'running') && d.checkpoints.some((c) => c.status === 'completed');
      }, { timeoutMs: options.runTimeoutMs ?? 60_000 });
      await waitFor('the interval', () => Date.now() - (outcomes.at(-1)?.at ?? 0) >= options.intervalMs, { timeoutMs: options.intervalMs + 1000, intervalMs: 50 });
      step = `fault ${i + 1}/${schedule.length} (${kind})`;
      log(`fault ${i + 1}/${schedule.length}: ${kind}`);
      const outcome = await inject(kind, ctx);
      outcomes.push(outcome);
      log(`  detected ${fmt(outcome.detectionMs)}, new leader ${fmt(outcome.newLeaderMs)}, running again ${fmt(outcome.runningAgainMs)}${outcome.note ? ` (${outcome.note})` : ''}`);
    }
    // The job was sized for the worst case of every fault; the rest of it need not be paced.
    unpace(output);
    step = 'waiting for the job to finish';
    log(`${step} (its source runs unpaced now)`);
    // The records left take at most this long at the source's pace; restarts add little.
    const finishMs = (records / recordsPerSecond) * 1000 + 120_000;
    result = await waitFor('the job to end', () => client.result(jobId).then((r) => r ?? undefined), { timeoutMs: finishMs, intervalMs: 200 });
    endedAt = Date.now();
    job = { jobId, state: result.state, records, restarts: result.details.restarts, attempt: result.details.attempt };
  } catch (err) {
    failure = { during: step, message: err instanceof Error ? err.message : String(err) };
    log(`drill failed during ${step}: ${failure.message}`);
  }
  endedAt ??= Date.now();
  await target.stop().catch((err: Error) => {
    failure ??= { during: 'stopping the cluster', message: err.message };
  });
  const problems = result ? checkExactlyOnce(output, records, keys) : [];
  const masterLogs = target.masterLogs();
  const actions = masterLogs.logs.flatMap((m) => actionsFromLog(m.name, m.lines));
  // A Master whose log cannot be read is not audited: that fails the audit as an overlap would.
  const taskAudits = (target.taskExecutorLogs?.() ?? []).map((t) => taskFenceAudit(t.name, t.lines));
  const leaderOverlaps = [...masterLogs.problems, ...overlaps(actions), ...taskAudits.flatMap((a) => a.problems)];
  const faults = withTimeline(outcomes, masterLogs.logs, commitTimes(output), endedAt);
  const finished = result?.state === 'finished';
  const ok = failure === null && finished && problems.length === 0 && leaderOverlaps.length === 0;
  const report: DrillReport = {
    seed: options.seed,
    cluster: { kind: target.kind, hosts: options.hosts ?? null },
    faults,
    job,
    exactlyOnce: { ok: result !== null && finished && problems.length === 0, problems: result ? problems : ['the job did not end'] },
    leaders: {
      ok: leaderOverlaps.length === 0,
      actions: actions.length,
      overlaps: leaderOverlaps,
      ...(target.taskExecutorLogs ? { staleCommandsRefused: taskAudits.reduce((n, a) => n + a.refused, 0) } : {}),
    },
    failure,
    logsDir: target.finish(ok),
    ok,
    durationMs: Date.now() - started,
  };
  if (report.logsDir) log(`logs of every process kept in ${report.logsDir}`);
  writeFileSync(options.report, JSON.stringify(report, null, 2) + '\n');
  return report;
}

function startTarget(options: DrillOptions): Promise<DrillTarget> {
  if (options.cluster) return options.cluster.start();
  if (options.hosts === undefined) return startLocalTarget({ taskExecutors: options.taskExecutors, slots: 2, leaseTtlSeconds: options.leaseTtlSeconds });
  return startHostsTarget({ hosts: options.hosts, taskExecutors: options.taskExecutors, leaseTtlSeconds: options.leaseTtlSeconds });
}

/**
 * Each fault's time without a leader and longest output gap, over its window: from its
 * injection to the next fault's (the last one's: to the job's end).
 */
export function withTimeline(
  measures: readonly FaultMeasure[],
  masterLogs: ReadonlyArray<{ node: string; lines: string[] }>,
  commits: readonly number[],
  endedAt: number,
): FaultOutcome[] {
  const terms = masterLogs.flatMap((m) => leaderTerms(m.node, m.lines));
  const outages = measures.filter((f) => LeaderFaultKinds.includes(f.kind)).map((f) => ({ node: f.target, at: f.at }));
  return measures.map((f, i) => {
    const window = { from: f.at, to: Math.max(f.at, measures[i + 1]?.at ?? endedAt) };
    return { ...f, withoutLeaderMs: Math.round(timeWithoutLeader(terms, outages, window)), longestOutputGapMs: roundOrNull(longestOutputGap(commits, window)) };
  });
}

function roundOrNull(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms);
}

export function formatReport(report: DrillReport): string {
  const rows = report.faults.map((f, i) => [String(i + 1), f.kind, f.target, fmt(f.detectionMs), fmt(f.newLeaderMs), fmt(f.runningAgainMs), fmt(f.withoutLeaderMs), fmt(f.longestOutputGapMs), f.note ?? '']);
  const header = ['#', 'fault', 'target', 'detection', 'new leader', 'running again', 'no leader', 'output gap', 'note'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
  return [
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    '',
    ...(report.failure ? [`failure during ${report.failure.during}: ${report.failure.message}`] : []),
    `cluster: ${report.cluster.kind}${report.cluster.hosts === null ? '' : ` (${report.cluster.hosts} hosts)`}`,
    report.job
      ? `job: ${report.job.state}, attempt ${report.job.attempt}, ${report.job.restarts} restarts, ${report.faults.filter((f) => f.jobRestarted === true).length} after leader faults`
      : 'job: not submitted',
    `exactly once: ${report.exactlyOnce.ok ? 'yes' : `NO — ${report.exactlyOnce.problems.slice(0, 3).join('; ')}`}`,
    `one leader at a time: ${report.leaders.ok ? `yes (${report.leaders.actions} fenced actions audited)` : `NO — ${report.leaders.overlaps.slice(0, 3).join('; ')}`}`,
    `verdict: ${report.ok ? 'PASS' : 'FAIL'} in ${(report.durationMs / 1000).toFixed(1)} s`,
    ...(report.logsDir ? [`logs of every process: ${report.logsDir}`] : []),
  ].join('\n');
}

function fmt(ms: number | null): string {
  return ms === null ? '-' : `${ms} ms`;
}
