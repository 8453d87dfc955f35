/**
 * The process's Prometheus metrics (prom-client), one registry per process. Hot paths never
 * touch prom-client: they bump plain integers (the actor system's delivery counts, the
 * transport's heartbeat stats) that the collectors read at scrape time. Components that
 * produce events call this small API: `metrics.leaderChanged()`,
 * `metrics.checkpointCompleted(jobId, ms, bytes)`, `metrics.checkpointFailed(jobId)`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActorSystem } from '../actor/system.js';
import { heartbeatStats } from '../transport/connection.js';
import { realClock, type TimerHandle } from '../util/clock.js';

/** Runs before each scrape to refresh gauges from their source (e.g. asks to the Master). */
export type Sampler = () => Promise<void> | void;

const SAMPLER_TIMEOUT_MS = 3000;

/**
 * @example
 * import { metrics } from '../metrics/registry.js';
 * metrics.checkpointCompleted(jobId, 120, 4096);
 * const text = await metrics.render(); // the Prometheus text format
 */
export class RuntimeMetrics {
  readonly registry = new Registry();
  private readonly samplers = new Set<Sampler>();
  private readonly systems = new Set<ActorSystem>();
  private processMetricsOn = false;
  private readonly leaderChanges: Counter;
  private readonly checkpointDuration: Histogram<'job_id'>;
  private readonly checkpointSize: Histogram<'job_id'>;
  private readonly checkpoints: Counter<'job_id' | 'status'>;

  constructor() {
    const registers = [this.registry];
    const systems = this.systems;
    new Counter({
      name: 'flinkish_actor_messages_total',
      help: 'Messages delivered to each actor mailbox (local and remote senders)',
      labelNames: ['actor'],
      registers,
      collect() {
        this.reset();
        for (const system of systems) for (const [actor, n] of system.messageCounts()) if (n > 0) this.inc({ actor }, n);
      },
    });
    new Counter({
      name: 'flinkish_heartbeat_misses_total',
      help: 'Heartbeat ticks at which a peer connection had been silent for more than 1.5 heartbeat intervals',
      registers,
      collect() {
        this.reset();
        if (heartbeatStats.misses > 0) this.inc(heartbeatStats.misses);
      },
    });
    new Counter({
      name: 'flinkish_heartbeat_timeouts_total',
      help: 'Peer connections closed because their heartbeats timed out',
      registers,
      collect() {
        this.reset();
        if (heartbeatStats.timeouts > 0) this.inc(heartbeatStats.timeouts);
      },
    });
    new Gauge({
      name: 'flinkish_transport_associations',
      help: 'Peers the actor system keeps transport state for (connected, dialing, or with queued messages)',
      registers,
      collect() {
        let n = 0;
        for (const system of systems) n += system.associations;
        this.set(n);
      },
    });
    this.leaderChanges = new Counter({ name: 'flinkish_leader_changes_total', help: 'Leader changes this process has seen', registers });
    this.checkpointDuration = new Histogram({
      name: 'flinkish_checkpoint_duration_seconds',
      help: 'Duration of completed checkpoints, trigger to completion',
      labelNames: ['job_id'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.checkpointSize = new Histogram({
      name: 'flinkish_checkpoint_size_bytes',
      help: 'State size of completed checkpoints',
      labelNames: ['job_id'],
      buckets: [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10],
      registers,
    });
    this.checkpoints = new Counter({
      name: 'flinkish_checkpoints_total',
      help: 'Checkpoints that ended, by status (completed, failed)',
      labelNames: ['job_id', 'status'],
      registers,
    });
  }

  /** Node.js process metrics (CPU, memory, event loop lag, GC); once per process. */
  enableProcessMetrics(): void {
    if (this.processMetricsOn) return;
    this.processMetricsOn = true;
    collectDefaultMetrics({ register: this.registry });
  }

  /** Count the messages of `system`'s actors; returns a function that stops it. */
  observeActorSystem(system: ActorSystem): () => void {
    this.systems.add(system);
    return () => this.systems.delete(system);
  }

  addSampler(sampler: Sampler): () => void {
    this.samplers.add(sampler);
    return () => this.samplers.delete(sampler);
  }

  leaderChanged(): void {
    this.leaderChanges.inc();
  }

  checkpointCompleted(jobId: string, durationMs: number, bytes: number): void {
    this.checkpointDuration.observe({ job_id: jobId }, durationMs / 1000);
    this.checkpointSize.observe({ job_id: jobId }, bytes);
    this.checkpoints.inc({ job_id: jobId, status: 'completed' });
  }

  checkpointFailed(jobId: string): void {
    this.checkpoints.inc({ job_id: jobId, status: 'failed' });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Refresh the sampled gauges, then render every metric in the Prometheus text format. */
  async render(): Promise<string> {
    // A slow or failing source leaves its gauges as they were rather than failing the scrape.
    await Promise.all([...this.samplers].map((sample) => withTimeout(Promise.resolve().then(sample), SAMPLER_TIMEOUT_MS).catch(() => undefined)));
    return this.registry.metrics();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: TimerHandle | undefined;
  const deadline = new Promise<never>((_, reject) => {
    // A scrape is answered in real time: its samplers are bounded on the real clock.
    timer = realClock.setTimeout(() => reject(new Error(`sampler took over ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => realClock.clearTimeout(timer));
}

/** The process's metrics. */
export const metrics = new RuntimeMetrics();
