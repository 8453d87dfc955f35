/**
 * Per-subtask gauges: records in and out, and time spent backpressured, labeled job_id,
 * vertex (the task's name: its chained operators) and subtask. The label is `job_id`, not
 * `job`, because Prometheus gives every scraped series its own `job` (the scrape job).
 * The values are the task's running totals, set at scrape time from the latest report.
 */
import { Gauge, type Registry } from 'prom-client';

export interface TaskSample {
  jobId: string;
  vertex: string;
  subtask: number;
  recordsIn: number;
  recordsOut: number;
  backPressuredMs: number;
}

type Labels = 'job_id' | 'vertex' | 'subtask';

export class TaskGauges {
  private readonly recordsIn: Gauge<Labels>;
  private readonly recordsOut: Gauge<Labels>;
  private readonly backPressured: Gauge<Labels>;

  /** `prefix` names the view: `flinkish_task` (the JobMaster's, on the Master) or `flinkish_taskexecutor` (local tasks). */
  constructor(registry: Registry, prefix: string, scope: string) {
    const labelNames = ['job_id', 'vertex', 'subtask'] as const;
    this.recordsIn = gauge(registry, { name: `${prefix}_records_in`, help: `Records read by each subtask (${scope})`, labelNames });
    this.recordsOut = gauge(registry, { name: `${prefix}_records_out`, help: `Records emitted by each subtask (${scope})`, labelNames });
    this.backPressured = gauge(registry, {
      name: `${prefix}_backpressured_seconds`,
      help: `Time each subtask waited for credit from its consumers (${scope})`,
      labelNames,
    });
  }

  /** Replace every series with `samples`: tasks that ended disappear. */
  set(samples: Iterable<TaskSample>): void {
    this.recordsIn.reset();
    this.recordsOut.reset();
    this.backPressured.reset();
    for (const s of samples) {
      const labels = { job_id: s.jobId, vertex: s.vertex, subtask: String(s.subtask) };
      this.recordsIn.set(labels, s.recordsIn);
      this.recordsOut.set(labels, s.recordsOut);
      this.backPressured.set(labels, s.backPressuredMs / 1000);
    }
  }
}

/** The registry's gauge of that name, made on first use: a second caller shares it rather than failing. */
export function gauge<L extends string>(registry: Registry, config: { name: string; help: string; labelNames?: readonly L[] }): Gauge<L> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) return existing as Gauge<L>;
  return new Gauge<L>({ ...config, registers: [registry] });
}
