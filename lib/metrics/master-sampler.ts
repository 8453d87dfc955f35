/**
 * The Master's cluster metrics, refreshed at each scrape by asking the Master actor: the
 * subtasks of every running job (as their JobMaster last heard from them), slots,
 * TaskExecutors and jobs by state. A standby Master has none of these to report.
 */
import type { MasterGateway } from '../rest/gateway.js';
import type { RuntimeMetrics } from './registry.js';
import { TaskGauges, gauge, type TaskSample } from './task-gauges.js';

/** Once per process: the gauges are the process's. Returns a function that stops sampling. */
export function sampleMaster(metrics: RuntimeMetrics, master: MasterGateway): () => void {
  const { registry } = metrics;
  const tasks = new TaskGauges(registry, 'flinkish_task', 'as reported to its JobMaster');
  const taskExecutors = gauge(registry, { name: 'flinkish_taskexecutors', help: 'Registered TaskExecutors' });
  const slots = gauge(registry, { name: 'flinkish_slots', help: 'Task slots of registered TaskExecutors, by state (free, allocated)', labelNames: ['state'] });
  const jobs = gauge(registry, { name: 'flinkish_jobs', help: 'Jobs known to the leading Master, by state', labelNames: ['state'] });
  return metrics.addSampler(async () => {
    let answers;
    try {
      answers = await Promise.all([master.overview(), master.jobs()]);
    } catch (err) {
      // Not (or no longer) the leader, or it does not answer: report nothing rather than stale values.
      for (const g of [taskExecutors, slots, jobs]) g.reset();
      tasks.set([]);
      throw err;
    }
    const [overview, { summaries, details }] = answers;
    taskExecutors.set(overview.taskExecutors.length);
    slots.set({ state: 'free' }, overview.slotsFree);
    slots.set({ state: 'allocated' }, overview.slotsTotal - overview.slotsFree);
    jobs.reset();
    for (const s of summaries) jobs.inc({ state: s.state });
    const samples: TaskSample[] = [];
    for (const job of details.values()) {
      const names = new Map(job.vertices.map((v) => [v.id, v.name]));
      for (const t of job.subtasks) {
        samples.push({ jobId: job.jobId, vertex: names.get(t.vertexId) ?? t.vertexId, subtask: t.index, ...t.metrics });
      }
    }
    tasks.set(samples);
  });
}
