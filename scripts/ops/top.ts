/**
 * `flinkish top`: the cluster at a glance, refreshed. Rates come from the difference of two
 * polls (subtask counters are cumulative), so the first frame shows none. Backpressure is the
 * share of the interval a vertex's subtasks spent waiting for credit, classed as Flink's web UI
 * does: ok up to 10 %, low up to 50 %, high above.
 */
import type { JobDetails } from '../../actors/jobmaster/status.js';
import type { ClusterOverview } from '../../actors/resourcemanager/protocol.js';
import { vertexRates, vertexTotals, type BackpressureLevel } from '../../lib/metrics/vertex-rates.js';

export { backpressureLevel, type BackpressureLevel } from '../../lib/metrics/vertex-rates.js';

/** One poll of the cluster: what `top` draws a frame from. */
export interface TopPoll {
  at: number;
  leader: string | null;
  overview: ClusterOverview;
  jobs: JobDetails[];
}

export interface VertexRow {
  name: string;
  parallelism: number;
  running: number;
  recordsInPerSecond: number | null;
  recordsOutPerSecond: number | null;
  backpressure: { ratio: number; level: BackpressureLevel } | null;
}

export interface JobRow {
  jobId: string;
  name: string;
  state: string;
  attempt: number;
  restarts: number;
  latestCheckpoint: { id: number; durationMs: number | null; ageMs: number } | null;
  vertices: VertexRow[];
}

export interface TopFrame {
  at: number;
  leader: string | null;
  taskExecutors: number;
  slotsTotal: number;
  slotsFree: number;
  jobs: JobRow[];
}

/** A frame from the current poll and, for rates, the one before (null on the first). */
export function topFrame(poll: TopPoll, previous: TopPoll | null): TopFrame {
  return {
    at: poll.at,
    leader: poll.leader,
    taskExecutors: poll.overview.taskExecutors.length,
    slotsTotal: poll.overview.slotsTotal,
    slotsFree: poll.overview.slotsFree,
    jobs: poll.jobs.map((job) => jobRow(job, poll.at, previous?.jobs.find((j) => j.jobId === job.jobId) ?? null, previous?.at ?? null)),
  };
}

function jobRow(job: JobDetails, at: number, before: JobDetails | null, beforeAt: number | null): JobRow {
  const completed = job.checkpoints.filter((c) => c.status === 'completed').at(-1);
  // Counters restart with each attempt: a rate across a restart would be meaningless.
  const comparable = before !== null && beforeAt !== null && before.attempt === job.attempt && at > beforeAt;
  const seconds = comparable ? (at - beforeAt!) / 1000 : 0;
  return {
    jobId: job.jobId,
    name: job.name,
    state: job.state,
    attempt: job.attempt,
    restarts: job.restarts,
    latestCheckpoint: completed
      ? { id: completed.id, durationMs: completed.durationMs ?? null, ageMs: Math.max(0, at - completed.triggeredAt - (completed.durationMs ?? 0)) }
      : null,
    vertices: job.vertices.map((v) => {
      const now = vertexTotals(job, v.id);
      const rates = comparable ? vertexRates(now, vertexTotals(before!, v.id), seconds, v.parallelism) : null;
      return {
        name: v.name,
        parallelism: v.parallelism,
        running: now.running,
        recordsInPerSecond: rates?.recordsInPerSecond ?? null,
        recordsOutPerSecond: rates?.recordsOutPerSecond ?? null,
        backpressure: rates?.backpressure ?? null,
      };
    }),
  };
}

const rate = (n: number | null) => (n === null ? '-' : n >= 10_000 ? `${(n / 1000).toFixed(0)}k` : n.toFixed(0));

/** The full-screen view of a terminal. */
export function renderTopScreen(frame: TopFrame): string {
  const lines = [
    `flinkish top  ${new Date(frame.at).toISOString()}  leader ${frame.leader ?? '(none)'}  ` +
      `TaskExecutors ${frame.taskExecutors}  slots ${frame.slotsTotal - frame.slotsFree}/${frame.slotsTotal} used`,
    '',
  ];
  if (frame.jobs.length === 0) lines.push('no running jobs');
  for (const job of frame.jobs) {
    const cp = job.latestCheckpoint;
    const checkpoint = cp ? `checkpoint ${cp.id} (${cp.durationMs ?? '-'} ms, ${(cp.ageMs / 1000).toFixed(1)} s ago)` : 'no checkpoint yet';
    lines.push(`${job.jobId}  ${job.name}  ${job.state}  attempt ${job.attempt}, ${job.restarts} restarts  ${checkpoint}`);
    const table = [
      ['  vertex', 'tasks', 'in/s', 'out/s', 'backpressure'],
      ...job.vertices.map((v) => [
        `  ${v.name}`,
        `${v.running}/${v.parallelism}`,
        rate(v.recordsInPerSecond),
        rate(v.recordsOutPerSecond),
        v.backpressure ? `${v.backpressure.level} (${Math.round(v.backpressure.ratio * 100)} %)` : '-',
      ]),
    ];
    const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
    for (const row of table) lines.push(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
    lines.push('');
  }
  return lines.join('\n');
}

/** One line per refresh, for logs and pipes. */
export function renderTopLine(frame: TopFrame): string {
  const jobs = frame.jobs.map((job) => {
    const out = job.vertices.reduce<number | null>((sum, v) => (v.recordsOutPerSecond === null ? sum : (sum ?? 0) + v.recordsOutPerSecond), null);
    const worst = job.vertices.map((v) => v.backpressure?.level).find((l) => l === 'high') ?? job.vertices.map((v) => v.backpressure?.level).find((l) => l === 'low') ?? (job.vertices.some((v) => v.backpressure) ? 'ok' : '-');
    return `${job.jobId.slice(0, 8)} ${job.state} attempt=${job.attempt} out/s=${rate(out)} backpressure=${worst} checkpoint=${job.latestCheckpoint?.id ?? '-'}`;
  });
  return [`${new Date(frame.at).toISOString()} leader=${frame.leader ?? '-'} slots=${frame.slotsTotal - frame.slotsFree}/${frame.slotsTotal}`, ...jobs].join(' | ');
}
