/**
 * The failover drill: start a local HA cluster (three etcd members, three Masters, TaskExecutors
 * with a spare), run a stateful job whose output can be checked exactly, inject a seeded
 * schedule of faults, measure each, and check at the end that the output is exactly once and
 * that no two leaders acted in the same period (from the audit of fenced actions in the
 * Masters' logs). Prints a table and writes a JSON report, also when the drill fails (then
 * the cluster's directory, with every process's log, is kept). The cluster is a {@link DrillTarget}:
 * the local one started here, or one already running whose faults go through its hosts' agents
 * (agent-target.ts, `drill --cluster FILE`).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkExactlyOnce } from '../support/exactly-once.js';
import type { JobResult } from '../../actors/jobmaster/status.js';
import { distRoot } from '../support/launcher.js';
import { startHaCluster } from '../support/local-ha.js';
import { waitFor } from '../support/wait.js';
import { actionsFromLog, overlaps } from './audit.js';
import { FaultKinds, inject, type FaultContext, type FaultKind, type FaultOutcome } from './faults.js';
import type { ClusterClient } from '../../lib/client/cluster-client.js';
import { pick, seededRandom } from './random.js';

export interface DrillOptions {
  faults: number;
  kinds: FaultKind[];
  seed: number;
  intervalMs: number;
  report: string;
  leaseTtlSeconds: number;
  taskExecutors: number;
  /** How long the job may take to run again before a fault (default 60 s). */
  runTimeoutMs?: number;
  /** Progress lines; the CLI prints them. */
  log?: (line: string) => void;
  /** A cluster that is already running and how faults reach it (`drill --cluster`); by default the drill starts a local one. */
  target?: DrillTarget;
}

/** What the drill runs against: the local HA cluster it starts, or one already running (agent-target.ts). */
export interface DrillTarget {
  /** One line for the progress log: what is drilled. */
  description: string;
  client(): Promise<ClusterClient>;
  /** Where the job writes: a directory every TaskExecutor and this process see. */
  outputDir: string;
  inject(kind: FaultKind, ctx: FaultContext): Promise<FaultOutcome>;
  /** Release what the drill holds (processes it started, partitions, connections). */
  stop(): Promise<void>;
  /** Each Master's complete log, for the audit; a problem for a Master whose log cannot be read (then the audit is not ok). */
  masterLogs(): { logs: Array<{ master: string; lines: string[] }>; problems: string[] };
  /** After the verdict: remove what a passed drill leaves; returns where the logs are kept (null: nowhere of the drill's). */
  finish(passed: boolean): string | null;
}

export interface DrillReport {
  seed: number;
  faults: FaultOutcome[];
  /** The job, once submitted; `state` is `running` if the drill stopped before it ended. */
  job: { jobId: string; state: string; records: number; restarts: number; attempt: number } | null;
  exactlyOnce: { ok: boolean; problems: string[] };
  leaders: { ok: boolean; actions: number; overlaps: string[] };
  /** What stopped the drill before its end (a fault that did not recover, a deadline), if anything. */
  failure: { during: string; message: string } | null;
  /** Where every process's log was kept (the drill failed), or null (passed: the cluster's directory is removed). */
  logsDir: string | null;
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

/** How long a fault may take to recover from, in the worst case we plan the job's length for. */
const PLANNED_MS_PER_FAULT = 4000;

/**
 * Run the drill. Whatever happens once the cluster is up, the report is written: a failure
 * (a fault the cluster did not recover from, a deadline) is in it with `ok: false`, and then
 * the cluster's directory with every process's log is kept and named in `logsDir`.
 */
export async function runDrill(options: DrillOptions): Promise<DrillReport> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const random = seededRandom(options.seed);
  const schedule = Array.from({ length: options.faults }, () => pick(random, options.kinds));
  log(`drill: seed ${options.seed}, faults: ${schedule.join(', ') || 'none'}`);
  const target = options.target ?? (await localTarget(options, log));
  log(target.description);
  const outcomes: FaultOutcome[] = [];
  // Sized so that the job outlives the schedule; the source paces itself.
  const recordsPerSecond = 2000;
  const records = Math.max(10_000, Math.ceil(((options.faults * (options.intervalMs + PLANNED_MS_PER_FAULT) + 8000) / 1000) * recordsPerSecond));
  const keys = 16;
  const output = target.outputDir;
  let job: DrillReport['job'] = null;
  let result: JobResult | null = null;
  let failure: DrillReport['failure'] = null;
  let step = 'submitting the job';
  try {
    const client = await target.client();
    await waitFor('a leader', () => client.masterAddress, { timeoutMs: 30_000 });
    const jobId = await client.submitFile(path.join(distRoot, 'scripts', 'jobs', 'keyed-count.js'), {
      parallelism: 2,
      args: { records, keys, output, recordsPerSecond, checkpointMs: 250 },
    });
    job = { jobId, state: 'running', records, restarts: 0, attempt: 0 };
    log(`job ${jobId}: ${records} records over ${keys} keys, exactly-once file sink`);
    const ctx: FaultContext = { client, jobId, leaseTtlMs: options.leaseTtlSeconds * 1000, log };
    for (const [i, kind] of schedule.entries()) {
      step = `waiting for the job to run before fault ${i + 1}/${schedule.length} (${kind})`;
      await waitFor('the job to run and checkpoint', async () => {
        const d = await client.status(jobId);
        return d.state === 'running' && d.subtasks.every((s) => s.state === 'running') && d.checkpoints.some((c) => c.status === 'completed');
      }, { timeoutMs: options.runTimeoutMs ?? 60_000 });
      await waitFor('the interval', () => Date.now() - (outcomes.at(-1)?.at ?? 0) >= options.intervalMs, { timeoutMs: options.intervalMs + 1000, intervalMs: 50 });
      step = `fault ${i + 1}/${schedule.length} (${kind})`;
      log(`fault ${i + 1}/${schedule.length}: ${kind}`);
      const outcome = await target.inject(kind, ctx);
      outcomes.push(outcome);
      log(`  detected ${fmt(outcome.detectionMs)}, new leader ${fmt(outcome.newLeaderMs)}, running again ${fmt(outcome.runningAgainMs)}${outcome.note ? ` (${outcome.note})` : ''}`);
    }
    step = 'waiting for the job to finish';
    log(step);
    // The records left take at most this long at the source's pace; restarts add little.
    const finishMs = (records / recordsPerSecond) * 1000 + 120_000;
    result = await waitFor('the job to end', () => client.result(jobId).then((r) => r ?? undefined), { timeoutMs: finishMs, intervalMs: 200 });
    job = { jobId, state: result.state, records, restarts: result.details.restarts, attempt: result.details.attempt };
  } catch (err) {
    failure = { during: step, message: err instanceof Error ? err.message : String(err) };
    log(`drill failed during ${step}: ${failure.message}`);
  }
  await target.stop().catch((err: Error) => {
    failure ??= { during: 'stopping the cluster', message: err.message };
  });
  const problems = result ? checkExactlyOnce(output, records, keys) : [];
  const masterLogs = target.masterLogs();
  const actions = masterLogs.logs.flatMap((m) => actionsFromLog(m.master, m.lines));
  const leaderOverlaps = [...masterLogs.problems, ...overlaps(actions)];
  const finished = result?.state === 'finished';
  const ok = failure === null && finished && problems.length === 0 && leaderOverlaps.length === 0;
  const report: DrillReport = {
    seed: options.seed,
    faults: outcomes,
    job,
    exactlyOnce: { ok: result !== null && finished && problems.length === 0, problems: result ? problems : ['the job did not end'] },
    leaders: { ok: leaderOverlaps.length === 0, actions: actions.length, overlaps: leaderOverlaps },
    failure,
    logsDir: target.finish(ok),
    ok,
    durationMs: Date.now() - started,
  };
  if (report.logsDir) log(`logs of every process kept in ${report.logsDir}`);
  writeFileSync(options.report, JSON.stringify(report, null, 2) + '\n');
  return report;
}

function readLog(file: string | null): string[] {
  if (!file) return [];
  try {
    return readFileSync(file, 'utf8').split('\n');
  } catch {
    return [];
  }
}

/** The local HA cluster that `flinkish drill` starts: 3 etcd members, 3 Masters, TaskExecutors with 2 slots each. */
async function localTarget(options: DrillOptions, log: (line: string) => void): Promise<DrillTarget> {
  log('starting a local HA cluster: 3 etcd members, 3 Masters, ' + `${options.taskExecutors} TaskExecutors × 2 slots`);
  const cluster = await startHaCluster({
    etcdMembers: 3,
    masters: 3,
    taskExecutors: options.taskExecutors,
    slots: 2,
    env: { FLINKISH_LEASE_TTL_SECONDS: String(options.leaseTtlSeconds) },
  });
  return {
    description: `local HA cluster in ${cluster.workDir}`,
    client: () => cluster.client(),
    outputDir: path.join(cluster.workDir, 'drill-output'),
    inject: (kind, ctx) => inject(kind, { ...ctx, cluster }),
    stop: () => cluster.stop({ keepWorkDir: true }),
    // From the complete log files: the in-memory buffers keep only each process's last lines.
    masterLogs: () => ({ logs: cluster.masters.map((m) => ({ master: m.name, lines: readLog(m.logFile) })), problems: [] }),
    finish(passed) {
      if (!passed) return cluster.logsDir;
      rmSync(cluster.workDir, { recursive: true, force: true });
      return null;
    },
  };
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
    ...(report.failure ? [`failure during ${report.failure.during}: ${report.failure.message}`] : []),
    report.job ? `job: ${report.job.state}, attempt ${report.job.attempt}, ${report.job.restarts} restarts` : 'job: not submitted',
    `exactly once: ${report.exactlyOnce.ok ? 'yes' : `NO — ${report.exactlyOnce.problems.slice(0, 3).join('; ')}`}`,
    `one leader at a time: ${report.leaders.ok ? `yes (${report.leaders.actions} fenced actions audited)` : `NO — ${report.leaders.overlaps.slice(0, 3).join('; ')}`}`,
    `verdict: ${report.ok ? 'PASS' : 'FAIL'} in ${(report.durationMs / 1000).toFixed(1)} s`,
    ...(report.logsDir ? [`logs of every process: ${report.logsDir}`] : []),
  ].join('\n');
}

function fmt(ms: number | null): string {
  return ms === null ? '-' : `${ms} ms`;
}
