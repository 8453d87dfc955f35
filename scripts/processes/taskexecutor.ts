/**
 * A TaskExecutor process: an actor system with the TaskExecutor actor, and the task runtime
 * that runs each task in its own worker thread and serves the data plane.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ActorSystem } from '../../lib/index.js';
import { requireSecret, s3SettingsOf, type ClusterConfig } from '../../lib/config.js';
import { configureStorage } from '../../lib/storage/index.js';
import { createLogger } from '../../lib/logging.js';
import { TaskRunner } from '../../lib/task/runner.js';
import { parseNodeAddress } from '../../lib/transport/transport.js';
import { taskExecutorMachine } from '../../actors/taskexecutor/machine.js';
import { TASK_EXECUTOR_LOCAL_EVENTS } from '../../actors/taskexecutor/protocol.js';
import { CodeCache } from '../../actors/taskexecutor/code-cache.js';
import { haServices } from './ha.js';
import { metrics } from '../../lib/metrics/registry.js';
import { startProcessMetrics } from '../../lib/metrics/process.js';
import { observeTaskRuntime } from '../../lib/metrics/task-observer.js';

export interface RunningTaskExecutor {
  system: ActorSystem;
  node: string;
  taskExecutorId: string;
  dataAddress: string;
  /** Prometheus `/metrics` (`host:port`), null when off. */
  metrics: string | null;
  stop(): Promise<void>;
}

export async function startTaskExecutor(
  config: ClusterConfig,
  options: { id?: string; onShutdown?: () => void } = {},
): Promise<RunningTaskExecutor> {
  const logger = createLogger({ name: 'taskexecutor', level: config.logLevel });
  configureStorage(s3SettingsOf(config));
  const secret = requireSecret(config);
  const system = await ActorSystem.start({
    clusterId: config.clusterId,
    secret,
    host: config.host,
    advertisedHost: config.advertisedHost,
    port: 0,
    name: 'taskexecutor',
    logger,
  });
  const taskExecutorId = options.id ?? `te-${parseNodeAddress(system.node)?.port ?? 0}-${randomBytes(3).toString('hex')}`;
  const workDir = path.resolve(config.workDir, `taskexecutor-${taskExecutorId}`);
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const runner = new TaskRunner({
    taskExecutorId,
    host: config.host,
    advertisedHost: config.advertisedHost,
    clusterId: config.clusterId,
    secret,
    log: system.log,
    workDir,
    clock: system.clock,
    spareWorkers: { count: 2 * config.slots, slot: { managedMemoryBytes: config.slotMemoryMb * 1024 * 1024 } },
  });
  const { dataAddress } = await runner.start();
  const slotMemory = config.slotMemoryMb * 1024 * 1024;
  const te = system.spawn('taskexecutor', taskExecutorMachine, {
    input: (env) => ({
      env,
      taskExecutorId,
      slots: Array.from({ length: config.slots }, (_, index) => ({ index, managedMemoryBytes: slotMemory })),
      dataAddress,
      runtime: observeTaskRuntime(runner, metrics),
      codeCache: new CodeCache(path.join(workDir, 'code')),
      registrationTimeoutMs: 5000,
      registrationRetryMs: 500,
      adoptionTimeoutMs: config.adoptionTimeoutMs,
      sampleResources: () => {
        const cpu = process.cpuUsage();
        return { rssBytes: process.memoryUsage.rss(), heapUsedBytes: process.memoryUsage().heapUsed, cpuMicros: cpu.user + cpu.system };
      },
      onShutdown: () => options.onShutdown?.(),
    }),
    localOnly: TASK_EXECUTOR_LOCAL_EVENTS,
    // A message its state does not take (a heartbeat before it registered) is reported, and an ask fails at once.
    reportUnhandled: true,
  });
  // HA mode: follow the leader through etcd; standalone: the configured Master leads forever.
  const ha = haServices(config, system.log);
  const retrieval = ha?.leaderRetrieval() ?? null;
  if (retrieval) {
    retrieval.start((leader) => {
      if (leader) metrics.leaderChanged();
      te.tell({ type: 'te.leader.changed', masterNode: leader?.address ?? null });
    });
  }
  else te.tell({ type: 'te.leader.changed', masterNode: config.masterAddress });
  const metricsServer = await startProcessMetrics(config, system);
  return {
    system,
    node: system.node,
    taskExecutorId,
    dataAddress,
    metrics: metricsServer?.address ?? null,
    async stop() {
      await metricsServer?.close();
      await ha?.close().catch(() => undefined);
      await runner.stop();
      await system.terminate();
    },
  };
}
