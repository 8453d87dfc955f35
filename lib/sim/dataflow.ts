/**
 * The data plane, checkpoint storage and the external system of a simulation, shared by the
 * simulated task runtimes of every TaskExecutor (task-runtime.ts): channels between subtasks
 * (in order, with latency, lost when the TaskExecutors cannot reach each other), snapshots that
 * outlive any process, and a transactional sink's target that records every committed record.
 *
 * The job is a keyed count: sources emit record ids 0..N-1 (key = id mod keys); the counting
 * sink writes `(id, key, count)` into a transaction per checkpoint epoch, pre-committed in its
 * snapshot and committed when the checkpoint completes (or, restored, from its snapshot).
 * Exactly once means every id committed once: a second commit is reported at once.
 */
import type { SimNetwork } from './network.js';
import type { Scheduler, SimNode } from './scheduler.js';

export interface SinkRecord {
  id: number;
  key: number;
  count: number;
}

export type Element =
  | { t: 'records'; records: Array<{ id: number; key: number }> }
  | { t: 'barrier'; checkpointId: number; dir: string }
  | { t: 'end' };

/** The consumer side of channels: a subtask deployed on some TaskExecutor. */
export interface Consumer {
  readonly node: SimNode;
  receive(channelId: string, element: Element): void;
}

interface Channel {
  /** Elements that arrived before their consumer was deployed. */
  held: Element[];
  lastArrival: number;
}

export interface TaskExecutorLocation {
  node: SimNode;
  nodeId: string;
}

export class SimDataflow {
  /** Checkpoint storage: path → snapshot. */
  readonly storage = new Map<string, unknown>();
  /** The external system: committed record ids, with the transaction that committed each. */
  readonly committed = new Map<number, string>();
  private readonly committedTxns = new Set<string>();
  /** The highest checkpoint whose transactions a sink committed, per job: it must never be restored past. */
  readonly committedCheckpoint = new Map<string, number>();
  private readonly channels = new Map<string, Channel>();
  private readonly consumers = new Map<string, Consumer>();
  /** TaskExecutor id → where it runs (for the data plane's reachability). */
  readonly taskExecutors = new Map<string, TaskExecutorLocation>();
  readonly violations: string[] = [];

  constructor(
    private readonly scheduler: Scheduler,
    private readonly network: SimNetwork,
    readonly totalRecords: number,
    readonly keys: number,
  ) {}

  register(executionId: string, consumer: Consumer): void {
    this.consumers.set(executionId, consumer);
  }

  unregister(executionId: string, consumer: Consumer): void {
    if (this.consumers.get(executionId) === consumer) this.consumers.delete(executionId);
  }

  /** Held elements of the channels into `executionId`, delivered once it is deployed. */
  takeHeld(channelIds: readonly string[]): Array<[string, Element[]]> {
    return channelIds.map((id) => {
      const channel = this.channels.get(id);
      const held = channel?.held ?? [];
      if (channel) channel.held = [];
      return [id, held];
    });
  }

  /**
   * Send `element` from a subtask on `fromTe` to `consumerExecutionId` on `toTe`. False when the
   * TaskExecutors cannot reach each other: the data connection is lost.
   */
  send(fromTe: string, toTe: string, channelId: string, consumerExecutionId: string, element: Element): boolean {
    const from = this.taskExecutors.get(fromTe);
    const to = this.taskExecutors.get(toTe);
    if (!from || !to || to.node.crashed) return false;
    if (fromTe !== toTe && (!this.network.canReach(from.nodeId, to.nodeId) || !this.network.canReach(to.nodeId, from.nodeId))) return false;
    let channel = this.channels.get(channelId);
    if (!channel) this.channels.set(channelId, (channel = { held: [], lastArrival: 0 }));
    const latency = fromTe === toTe ? 0 : this.network.latency();
    const arrival = Math.max(this.scheduler.now + latency, channel.lastArrival);
    channel.lastArrival = arrival;
    const target = channel;
    this.scheduler.schedule(
      arrival - this.scheduler.now,
      null,
      () => {
        const consumer = this.consumers.get(consumerExecutionId);
        if (consumer) consumer.receive(channelId, element);
        else target.held.push(element);
      },
      to.node,
    );
    return true;
  }

  /** Commit a sink's transaction; commits are idempotent by transaction id. */
  commit(jobId: string, txnId: string, checkpointId: number, records: readonly SinkRecord[]): void {
    if (this.committedTxns.has(txnId)) return;
    this.committedTxns.add(txnId);
    if (checkpointId > (this.committedCheckpoint.get(jobId) ?? 0)) this.committedCheckpoint.set(jobId, checkpointId);
    for (const r of records) {
      const earlier = this.committed.get(r.id);
      if (earlier !== undefined) this.violations.push(`exactly-once: record ${r.id} committed twice (transactions ${earlier} and ${txnId})`);
      else this.committed.set(r.id, txnId);
    }
  }

  /** For a finished job: every record committed (duplicates are reported as they happen). */
  missingRecords(): number[] {
    const missing: number[] = [];
    for (let id = 0; id < this.totalRecords; id++) if (!this.committed.has(id)) missing.push(id);
    return missing;
  }
}
