/**
 * The TaskExecutor's view of its own tasks: it wraps the task runtime handed to the
 * TaskExecutor actor and watches the events of each deployed subtask (the same reports the
 * JobMaster gets), so that the process exports its tasks' metrics without a round trip.
 */
import type { TaskDeploymentDescriptor, TaskEvent } from '../task/descriptor.js';
import type { SlotResources } from '../task/runner.js';
import type { RuntimeMetrics } from './registry.js';
import { TaskGauges, type TaskSample } from './task-gauges.js';

interface Deployable {
  deploy(tdd: TaskDeploymentDescriptor, slot: SlotResources, onEvent: (e: TaskEvent) => void): void;
}

/**
 * The same runtime, with `deploy` observed; every other member is the runtime's own.
 * @example
 * const te = system.spawn('taskexecutor', taskExecutorMachine, { input: (env) => ({ ...,
 *   runtime: observeTaskRuntime(runner, metrics) }) });
 */
export function observeTaskRuntime<R extends Deployable>(runtime: R, metrics: RuntimeMetrics): R {
  const live = liveTasksOf(metrics);
  const deploy = (tdd: TaskDeploymentDescriptor, slot: SlotResources, onEvent: (e: TaskEvent) => void): void =>
    runtime.deploy(tdd, slot, (event) => {
      track(live, tdd, event);
      onEvent(event);
    });
  return new Proxy(runtime, {
    get(target, prop) {
      if (prop === 'deploy') return deploy;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Live subtasks per process registry: every observed runtime of the process reports into one map. */
const liveTasks = new WeakMap<RuntimeMetrics, Map<string, TaskSample>>();

function liveTasksOf(metrics: RuntimeMetrics): Map<string, TaskSample> {
  let live = liveTasks.get(metrics);
  if (!live) {
    const tasks = (live = new Map());
    const gauges = new TaskGauges(metrics.registry, 'flinkish_taskexecutor', 'subtasks running in this TaskExecutor');
    metrics.addSampler(() => gauges.set(tasks.values()));
    liveTasks.set(metrics, tasks);
  }
  return live;
}

function track(live: Map<string, TaskSample>, tdd: TaskDeploymentDescriptor, event: TaskEvent): void {
  if (event.type === 'task.state' && event.state !== 'running') {
    live.delete(tdd.executionId);
    return;
  }
  const metrics = event.type === 'task.metrics' ? event.metrics : event.type === 'task.state' ? event.metrics : undefined;
  if (event.type === 'task.state' || metrics) {
    const sample = live.get(tdd.executionId) ?? {
      jobId: tdd.jobId,
      vertex: tdd.vertexName,
      subtask: tdd.subtaskIndex,
      recordsIn: 0,
      recordsOut: 0,
      backPressuredMs: 0,
    };
    if (metrics) Object.assign(sample, { recordsIn: metrics.recordsIn, recordsOut: metrics.recordsOut, backPressuredMs: metrics.backPressuredMs });
    live.set(tdd.executionId, sample);
  }
}
