/**
 * Per-vertex rates from two readings of a job's cumulative subtask counters: records in/out per
 * second and backpressure, classed as Flink's web UI does (ok up to 10 %, low up to 50 %, high
 * above). `flinkish top` and the dashboard's time series compute them the same way.
 */
import type { JobDetails } from '../../actors/jobmaster/status.js';

export type BackpressureLevel = 'ok' | 'low' | 'high';

export function backpressureLevel(ratio: number): BackpressureLevel {
  if (ratio > 0.5) return 'high';
  if (ratio > 0.1) return 'low';
  return 'ok';
}

export interface VertexTotals {
  running: number;
  recordsIn: number;
  recordsOut: number;
  backPressuredMs: number;
}

/** The counters of a vertex's subtasks, summed, and how many of them run. */
export function vertexTotals(job: Pick<JobDetails, 'subtasks'>, vertexId: string): VertexTotals {
  const out = { running: 0, recordsIn: 0, recordsOut: 0, backPressuredMs: 0 };
  for (const s of job.subtasks) {
    if (s.vertexId !== vertexId) continue;
    if (s.state === 'running') out.running++;
    out.recordsIn += s.metrics.recordsIn;
    out.recordsOut += s.metrics.recordsOut;
    out.backPressuredMs += s.metrics.backPressuredMs;
  }
  return out;
}

export interface VertexRates {
  recordsInPerSecond: number;
  recordsOutPerSecond: number;
  /** Share of the interval a subtask spent waiting for credit, on average over the subtasks (0..1). */
  backpressure: { ratio: number; level: BackpressureLevel };
}

/** Rates between two readings `seconds` apart (> 0) of the same attempt. */
export function vertexRates(now: VertexTotals, then: VertexTotals, seconds: number, parallelism: number): VertexRates {
  const perSecond = (a: number, b: number) => Math.max(0, a - b) / seconds;
  // Per subtask on average: p subtasks each waiting the whole interval is a ratio of 1.
  const ratio = Math.min(1, Math.max(0, now.backPressuredMs - then.backPressuredMs) / (seconds * 1000 * Math.max(1, parallelism)));
  return {
    recordsInPerSecond: perSecond(now.recordsIn, then.recordsIn),
    recordsOutPerSecond: perSecond(now.recordsOut, then.recordsOut),
    backpressure: { ratio, level: backpressureLevel(ratio) },
  };
}
