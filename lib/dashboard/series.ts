/**
 * The dashboard's time series: the leader samples each job's status every second and keeps the
 * last minutes in bounded ring buffers, so that the page can draw throughput, backpressure and
 * checkpoints over time (the status itself shows one instant).
 *
 * Bounded by construction: only jobs the Master lists are kept (at most `maxJobs`, the newest),
 * each with at most `windowMs / intervalMs` samples and `maxCheckpoints` checkpoints; an ended
 * job's series is dropped `retainEndedMs` after it ended, a job the Master no longer lists at
 * once. A standby samples nothing and keeps nothing: what it had belongs to a term that is over.
 * TaskExecutors' resources (memory, CPU) are kept the same way, for those registered (at most
 * `maxTaskExecutors`), from what their heartbeats report.
 */
import type { JobDetails } from '../../actors/jobmaster/status.js';
import type { JobSummary } from '../../actors/master/protocol.js';
import type { ClusterOverview } from '../../actors/resourcemanager/protocol.js';
import type { Logger } from '../logging.js';
import { vertexRates, vertexTotals, type BackpressureLevel, type VertexTotals } from '../metrics/vertex-rates.js';
import { RingQueue } from '../util/ring-queue.js';
import { toCheckpoints } from '../rest/shapes.js';
import { every, realClock, type Clock } from '../util/clock.js';

export interface SeriesOptions {
  /** Sampling period (default 1 s). */
  intervalMs: number;
  /** How far back the series reach (default 10 min). */
  windowMs: number;
  /** Jobs sampled at most (default 64): the newest ones. */
  maxJobs: number;
  /** Checkpoints kept per job (default 100): the newest ones. */
  maxCheckpoints: number;
  /** How long an ended job's series stay (default 10 min). */
  retainEndedMs: number;
  /** TaskExecutors whose resources are kept at most (default 256). */
  maxTaskExecutors: number;
}

export const DEFAULT_SERIES_OPTIONS: SeriesOptions = {
  intervalMs: 1000,
  windowMs: 10 * 60_000,
  maxJobs: 64,
  maxCheckpoints: 100,
  retainEndedMs: 10 * 60_000,
  maxTaskExecutors: 256,
};

/** One TaskExecutor at one heartbeat. */
export interface ResourceSample {
  /** When the ResourceManager got the heartbeat answer. */
  at: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** CPU cores busy on average since the sample before (1 = one core); null on the first. */
  cpuCores: number | null;
}

/** GET /api/taskexecutors/series */
export interface ApiTaskExecutorSeries {
  intervalMs: number;
  windowMs: number;
  /** By id; oldest sample first. */
  taskExecutors: Array<{ id: string; samples: ResourceSample[] }>;
}

interface ResourceSeries {
  samples: RingQueue<ResourceSample>;
  last: { at: number; cpuMicros: number } | null;
}

/** One vertex at one sample: rates since the sample before (same attempt). */
export interface VertexPoint {
  recordsInPerSecond: number;
  recordsOutPerSecond: number;
  backpressureRatio: number;
  backpressure: BackpressureLevel;
}

export interface SeriesSample {
  at: number;
  state: string;
  attempt: number;
  /** Aligned with `vertices`; null where there is no rate (first sample, or a new attempt). */
  vertices: Array<VertexPoint | null>;
  /** Records per second the job's last tasks (those nobody consumes from) take in: its output; null with no rate. */
  outputPerSecond: number | null;
}

export interface SeriesCheckpoint {
  id: number;
  /** `failed`: the trigger itself failed (its id is negative). */
  status: 'completed' | 'aborted' | 'failed';
  savepoint: boolean;
  triggeredAt: number;
  durationMs: number | null;
  sizeBytes: number | null;
}

/** GET /api/jobs/:id/series */
export interface ApiJobSeries {
  jobId: string;
  intervalMs: number;
  windowMs: number;
  vertices: Array<{ id: string; name: string; parallelism: number }>;
  /** Oldest first. */
  samples: SeriesSample[];
  /** When a new attempt was first seen (a restart, or a new leader's recovery), oldest first. */
  restarts: Array<{ at: number; attempt: number }>;
  /** Leader changes the job went through under this leader: adopted (no restart) or not. */
  failovers: Array<{ at: number; term: string; attempt: number; adopted: boolean }>;
  /** Ended checkpoints, oldest first. */
  checkpoints: SeriesCheckpoint[];
}

interface JobSeries {
  vertices: ApiJobSeries['vertices'];
  sinks: boolean[];
  samples: RingQueue<SeriesSample>;
  restarts: RingQueue<{ at: number; attempt: number }>;
  failovers: ApiJobSeries['failovers'];
  checkpoints: Map<number, SeriesCheckpoint>;
  last: { at: number; attempt: number; totals: VertexTotals[] } | null;
  endedAt: number | null;
}

const TERMINAL = new Set(['finished', 'failed', 'canceled']);

/**
 * @example
 * const store = new SeriesStore();
 * store.record(Date.now(), summaries, details); // once per interval, on the leader
 * store.series(jobId);                          // for GET /api/jobs/:id/series
 */
export class SeriesStore {
  readonly options: SeriesOptions;
  private readonly jobs = new Map<string, JobSeries>();
  private readonly taskExecutors = new Map<string, ResourceSeries>();

  constructor(options: Partial<SeriesOptions> = {}) {
    this.options = { ...DEFAULT_SERIES_OPTIONS, ...options };
  }

  private get capacity(): number {
    return Math.max(1, Math.ceil(this.options.windowMs / this.options.intervalMs));
  }

  /** Jobs with series, for tests and the metrics of this store. */
  get size(): number {
    return this.jobs.size;
  }

  /** One sample: the Master's job list, and the details of the jobs that run. */
  record(at: number, summaries: readonly Pick<JobSummary, 'jobId' | 'state' | 'endedAt' | 'submittedAt'>[], details: ReadonlyMap<string, JobDetails>): void {
    const listed = new Set(summaries.map((s) => s.jobId));
    for (const id of this.jobs.keys()) if (!listed.has(id)) this.jobs.delete(id);
    const newest = [...summaries].sort((a, b) => b.submittedAt - a.submittedAt || a.jobId.localeCompare(b.jobId)).slice(0, this.options.maxJobs);
    const kept = new Set(newest.map((s) => s.jobId));
    for (const id of this.jobs.keys()) if (!kept.has(id)) this.jobs.delete(id);
    for (const summary of newest) {
      const ended = TERMINAL.has(summary.state);
      const series = this.jobs.get(summary.jobId);
      if (ended) {
        // Its last samples stay for a while; a job that ended before we saw it run has none.
        if (!series) continue;
        series.endedAt ??= summary.endedAt ?? at;
        if (at - series.endedAt >= this.options.retainEndedMs) this.jobs.delete(summary.jobId);
        continue;
      }
      const job = details.get(summary.jobId);
      if (job) this.sample(series ?? this.create(job), at, job);
    }
  }

  series(jobId: string): ApiJobSeries | null {
    const s = this.jobs.get(jobId);
    if (!s) return null;
    return {
      jobId,
      intervalMs: this.options.intervalMs,
      windowMs: this.options.windowMs,
      vertices: s.vertices.map((v) => ({ ...v })),
      samples: s.samples.toArray(),
      restarts: s.restarts.toArray(),
      failovers: s.failovers.map((f) => ({ ...f })),
      checkpoints: [...s.checkpoints.values()].sort((a, b) => a.triggeredAt - b.triggeredAt || a.id - b.id),
    };
  }

  /** An empty series for a job not sampled yet (its vertices from its status). */
  static empty(job: Pick<JobDetails, 'jobId' | 'vertices'>, options: SeriesOptions = DEFAULT_SERIES_OPTIONS): ApiJobSeries {
    return {
      jobId: job.jobId,
      intervalMs: options.intervalMs,
      windowMs: options.windowMs,
      vertices: job.vertices.map((v) => ({ id: v.id, name: v.name, parallelism: v.parallelism })),
      samples: [],
      restarts: [],
      failovers: [],
      checkpoints: [],
    };
  }

  clear(): void {
    this.jobs.clear();
    this.taskExecutors.clear();
  }

  /** One sample of the registered TaskExecutors' latest heartbeat resources; the others are dropped. */
  recordTaskExecutors(taskExecutors: ClusterOverview['taskExecutors']): void {
    const listed = [...taskExecutors].sort((a, b) => a.id.localeCompare(b.id)).slice(0, this.options.maxTaskExecutors);
    const kept = new Set(listed.map((te) => te.id));
    for (const id of this.taskExecutors.keys()) if (!kept.has(id)) this.taskExecutors.delete(id);
    for (const te of listed) {
      const r = te.resources;
      if (!r) continue;
      let series = this.taskExecutors.get(te.id);
      if (!series) this.taskExecutors.set(te.id, (series = { samples: new RingQueue(Math.min(1024, this.capacity)), last: null }));
      // One sample per heartbeat answer: a sampler faster than the heartbeats sees one twice.
      if (series.last && r.at <= series.last.at) continue;
      const cpuCores = series.last ? round(Math.max(0, r.cpuMicros - series.last.cpuMicros) / 1000 / (r.at - series.last.at), 1000) : null;
      push(series.samples, { at: r.at, rssBytes: r.rssBytes, heapUsedBytes: r.heapUsedBytes, cpuCores }, this.capacity);
      series.last = { at: r.at, cpuMicros: r.cpuMicros };
    }
  }

  taskExecutorSeries(): ApiTaskExecutorSeries {
    return {
      intervalMs: this.options.intervalMs,
      windowMs: this.options.windowMs,
      taskExecutors: [...this.taskExecutors].map(([id, s]) => ({ id, samples: s.samples.toArray() })).sort((a, b) => a.id.localeCompare(b.id)),
    };
  }

  private create(job: JobDetails): JobSeries {
    const consumed = new Set(job.vertices.flatMap((v) => v.inputs.map((i) => i.source)));
    const series: JobSeries = {
      vertices: SeriesStore.empty(job).vertices,
      sinks: job.vertices.map((v) => !consumed.has(v.id)),
      samples: new RingQueue(Math.min(1024, this.capacity)),
      restarts: new RingQueue(),
      failovers: [],
      checkpoints: new Map(),
      last: null,
      endedAt: null,
    };
    this.jobs.set(job.jobId, series);
    return series;
  }

  private sample(series: JobSeries, at: number, job: JobDetails): void {
    const totals = series.vertices.map((v) => vertexTotals(job, v.id));
    const last = series.last;
    // Counters start over with each attempt: no rate across one (a gap in the charts).
    const comparable = last !== null && last.attempt === job.attempt && at > last.at;
    const points = series.vertices.map((v, i) =>
      comparable ? toPoint(vertexRates(totals[i]!, last.totals[i]!, (at - last.at) / 1000, v.parallelism)) : null,
    );
    const output = comparable ? points.reduce((sum, p, i) => sum + (series.sinks[i] ? p!.recordsInPerSecond : 0), 0) : null;
    if (last !== null && last.attempt !== job.attempt) push(series.restarts, { at, attempt: job.attempt }, this.capacity);
    push(series.samples, { at, state: job.state, attempt: job.attempt, vertices: points, outputPerSecond: output }, this.capacity);
    // The JobMaster keeps them (few: one per leader change it saw).
    series.failovers = (job.failovers ?? []).map((f) => ({ at: f.at, term: f.leaderSessionId, attempt: f.attempt, adopted: f.adopted }));
    series.last = { at, attempt: job.attempt, totals };
    // The REST shape of each ended checkpoint, without its failure text (the table has it).
    for (const { failure: _failure, ...c } of toCheckpoints(job)) {
      if (c.status !== 'pending') series.checkpoints.set(c.id, c as SeriesCheckpoint);
    }
    // Map order is insertion order: the first seen are the oldest.
    for (const id of series.checkpoints.keys()) {
      if (series.checkpoints.size <= this.options.maxCheckpoints) break;
      series.checkpoints.delete(id);
    }
  }
}

function toPoint(r: ReturnType<typeof vertexRates>): VertexPoint {
  return {
    recordsInPerSecond: round(r.recordsInPerSecond),
    recordsOutPerSecond: round(r.recordsOutPerSecond),
    backpressureRatio: round(r.backpressure.ratio, 1000),
    backpressure: r.backpressure.level,
  };
}

const round = (n: number, scale = 10) => Math.round(n * scale) / scale;

function push<T>(queue: RingQueue<T>, item: T, capacity: number): void {
  queue.push(item);
  while (queue.length > capacity) queue.shift();
}

export interface SamplerSource {
  jobs(): Promise<{ summaries: JobSummary[]; details: Map<string, JobDetails> }>;
  /** The ResourceManager's view: TaskExecutors with their latest resources. */
  overview?(): Promise<ClusterOverview>;
}

/**
 * One sample: on the leader, the Master's jobs into `store`; on a standby nothing is asked and
 * the store is emptied. Resolves false when the Master did not answer (the sample is a gap).
 */
export async function sampleOnce(store: SeriesStore, source: SamplerSource, isLeader: () => boolean, now: () => number = realClock.now): Promise<boolean> {
  if (!isLeader()) {
    store.clear();
    return true;
  }
  try {
    const [{ summaries, details }, overview] = await Promise.all([source.jobs(), source.overview?.() ?? Promise.resolve(null)]);
    // Leadership may have moved while the asks were out.
    if (!isLeader()) {
      store.clear();
      return true;
    }
    store.record(now(), summaries, details);
    if (overview) store.recordTaskExecutors(overview.taskExecutors);
    return true;
  } catch {
    return false;
  }
}

/**
 * Sample into `store` every interval (see `sampleOnce`). A tick still waiting for the Master
 * skips the next one. Returns the stop function.
 */
export function startSeriesSampler(store: SeriesStore, source: SamplerSource, isLeader: () => boolean, log: Logger, clock: Clock = realClock): () => void {
  let busy = false;
  let failures = 0;
  const tick = (): void => {
    if (busy) return;
    busy = true;
    void sampleOnce(store, source, isLeader, () => clock.now()).then((answered) => {
      busy = false;
      // A busy or recovering Master: samples are skipped (gaps), said once per streak.
      if (answered) failures = 0;
      else if (failures++ === 0) log.debug('dashboard series: the Master did not answer; samples skipped');
    });
  };
  return every(clock, store.options.intervalMs, tick, { unref: true });
}
