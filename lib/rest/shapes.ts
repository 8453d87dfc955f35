/**
 * The REST API's response shapes and how they are made from what the Master answers. Plain
 * functions of plain data, so that they are unit-tested without a cluster.
 */
import type { WireError } from '../errors.js';
import type { JobException } from '../../actors/jobmaster/exceptions.js';
import type { JobDetails, SubtaskStatus } from '../../actors/jobmaster/status.js';
import type { JobSummary } from '../../actors/master/protocol.js';
import type { ClusterOverview } from '../../actors/resourcemanager/protocol.js';
import type { LeaderInfo } from './leadership.js';

export interface ApiMetrics {
  recordsIn: number;
  recordsOut: number;
  backPressuredMs: number;
}

/** GET /api/overview */
export interface ApiOverview {
  taskExecutors: number;
  slotsTotal: number;
  slotsFree: number;
  /** Job count per state; every state with at least one job. */
  jobs: Record<string, number>;
  leader: LeaderInfo | null;
  /** Jobs waiting for slots, and since when. */
  waitingJobs: Array<{ jobId: string; slots: number; sinceMs: number }>;
}

/** GET /api/taskexecutors: one entry per registered TaskExecutor. */
export interface ApiTaskExecutor {
  id: string;
  node: string;
  dataAddress: string;
  slotsTotal: number;
  slotsFree: number;
  slots: Array<{ index: number; managedMemoryBytes: number; jobId: string | null; allocationId: string | null; group: string | null }>;
  /** From its latest heartbeat: resident memory, main-thread heap, CPU time so far (µs), and when. */
  resources: { at: number; rssBytes: number; heapUsedBytes: number; cpuMicros: number } | null;
}

/** GET /api/jobs: one entry per job, oldest first. */
export interface ApiJobSummary {
  jobId: string;
  name: string;
  state: string;
  submittedAt: number;
  endedAt: number | null;
  durationMs: number;
  /** The savepoint a stop-with-savepoint ended the job with; null otherwise. */
  stoppedWithSavepoint: string | null;
}

export interface ApiSubtask {
  index: number;
  executionId: string;
  state: string;
  /** Where it runs: the TaskExecutor and its slot (null until deployed). */
  taskExecutorId: string | null;
  slotIndex: number | null;
  metrics: ApiMetrics;
  failure: WireError | null;
}

/** A task: a chain of operators, run by `parallelism` subtasks. */
export interface ApiVertex {
  id: string;
  name: string;
  parallelism: number;
  slotSharingGroup: string;
  /** The chained operators, in order. */
  operators: Array<{ id: string; name: string }>;
  inputs: Array<{ source: string; partitioner: string }>;
  /** Subtask count per state. */
  states: Record<string, number>;
  /** Sum over the subtasks. */
  metrics: ApiMetrics;
  subtasks: ApiSubtask[];
}

/** GET /api/jobs/:id */
export interface ApiJob extends ApiJobSummary {
  attempt: number;
  restarts: number;
  vertices: ApiVertex[];
  slots: Array<{ allocationId: string; taskExecutorId: string; slotIndex: number; group: string }>;
  /** Leader changes the job went through under this leader: adopted (attempt unchanged) or restarted. */
  failovers: Array<{ at: number; term: string; attempt: number; adopted: boolean; reason: string }>;
  failure: WireError | null;
}

/** GET /api/jobs/:id/checkpoints: newest last. */
export interface ApiCheckpoint {
  id: number;
  status: 'pending' | 'completed' | 'aborted';
  savepoint: boolean;
  triggeredAt: number;
  /** Trigger to completion; null while pending. */
  durationMs: number | null;
  /** State size of the completed checkpoint; null until it completes. */
  sizeBytes: number | null;
  /** Why it was aborted. */
  failure: string | null;
}

const TERMINAL = new Set(['finished', 'failed', 'canceled']);

export function toOverview(overview: ClusterOverview, jobs: ApiJobSummary[], leader: LeaderInfo | null): ApiOverview {
  const byState: Record<string, number> = {};
  for (const j of jobs) byState[j.state] = (byState[j.state] ?? 0) + 1;
  return {
    taskExecutors: overview.taskExecutors.length,
    slotsTotal: overview.slotsTotal,
    slotsFree: overview.slotsFree,
    jobs: byState,
    leader,
    waitingJobs: overview.waitingJobs,
  };
}

export function toTaskExecutors(overview: ClusterOverview): ApiTaskExecutor[] {
  return overview.taskExecutors
    .map((te) => ({
      id: te.id,
      node: te.node,
      dataAddress: te.dataAddress,
      slotsTotal: te.slots.length,
      slotsFree: te.slots.filter((s) => s.allocationId === null).length,
      slots: te.slots.map((s) => ({ ...s })).sort((a, b) => a.index - b.index),
      resources: te.resources ? { ...te.resources } : null,
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

export function toJobSummary(s: Pick<JobSummary, 'jobId' | 'name' | 'state' | 'submittedAt' | 'endedAt' | 'stoppedWithSavepoint'>, now: number): ApiJobSummary {
  const ended = TERMINAL.has(s.state) && s.endedAt !== null;
  return {
    jobId: s.jobId,
    name: s.name,
    state: s.state,
    submittedAt: s.submittedAt,
    endedAt: s.endedAt,
    durationMs: Math.max(0, (ended ? s.endedAt! : now) - s.submittedAt),
    stoppedWithSavepoint: s.stoppedWithSavepoint ?? null,
  };
}

export function toJob(d: JobDetails, now: number): ApiJob {
  // Fields that arrive with the checkpoint and restart work; absent from older Masters.
  const extra = d as Partial<{ attempt: number; restarts: number }>;
  return {
    ...toJobSummary(d, now),
    attempt: extra.attempt ?? 0,
    restarts: extra.restarts ?? 0,
    vertices: d.vertices.map((v) => {
      const subtasks = d.subtasks.filter((s) => s.vertexId === v.id).sort((a, b) => a.index - b.index).map(toSubtask);
      const states: Record<string, number> = {};
      for (const s of subtasks) states[s.state] = (states[s.state] ?? 0) + 1;
      return {
        id: v.id,
        name: v.name,
        parallelism: v.parallelism,
        slotSharingGroup: v.slotSharingGroup,
        operators: operatorsOf(v.name, v.operatorIds),
        inputs: v.inputs.map((i) => ({ ...i })),
        states,
        metrics: sum(subtasks.map((s) => s.metrics)),
        subtasks,
      };
    }),
    slots: d.slots.map((s) => ({ ...s })),
    failovers: (d.failovers ?? []).map((f) => ({ at: f.at, term: f.leaderSessionId, attempt: f.attempt, adopted: f.adopted, reason: f.reason })),
    failure: d.failure ?? null,
  };
}

export function toCheckpoints(d: JobDetails): ApiCheckpoint[] {
  const stats = (d as { checkpoints?: unknown }).checkpoints;
  if (!Array.isArray(stats)) return [];
  return (stats as CheckpointStatsLike[]).map((c) => ({
    id: c.id,
    status: c.status,
    savepoint: c.savepoint,
    triggeredAt: c.triggeredAt,
    durationMs: c.durationMs,
    sizeBytes: c.status === 'completed' ? c.bytes : null,
    failure: c.reason ?? null,
  }));
}

/** What the JobMaster's checkpoint coordinator reports per checkpoint. */
interface CheckpointStatsLike {
  id: number;
  status: 'pending' | 'completed' | 'aborted';
  savepoint: boolean;
  triggeredAt: number;
  durationMs: number | null;
  bytes: number;
  reason?: string;
}

/** GET /api/jobs/:id/exceptions: the job's failure history, newest first. */
export type ApiJobException = JobException;

export function toExceptions(d: JobDetails): ApiJobException[] {
  return (d.exceptions ?? []).slice().reverse();
}

/**
 * A vertex's name is its operators' names joined by " -> " (see the job graph); split it to
 * name each operator id. Should the counts differ, the ids stand for themselves.
 */
export function operatorsOf(vertexName: string, operatorIds: readonly string[]): Array<{ id: string; name: string }> {
  const names = vertexName.split(' -> ');
  return operatorIds.map((id, i) => ({ id, name: names.length === operatorIds.length ? names[i]! : id }));
}

function toSubtask(s: SubtaskStatus): ApiSubtask {
  return {
    index: s.index,
    executionId: s.executionId,
    state: s.state,
    taskExecutorId: s.taskExecutorId,
    slotIndex: s.slotIndex,
    metrics: { recordsIn: s.metrics.recordsIn, recordsOut: s.metrics.recordsOut, backPressuredMs: s.metrics.backPressuredMs },
    failure: s.error ?? null,
  };
}

function sum(all: ApiMetrics[]): ApiMetrics {
  const total: ApiMetrics = { recordsIn: 0, recordsOut: 0, backPressuredMs: 0 };
  for (const m of all) {
    total.recordsIn += m.recordsIn;
    total.recordsOut += m.recordsOut;
    total.backPressuredMs += m.backPressuredMs;
  }
  return total;
}
