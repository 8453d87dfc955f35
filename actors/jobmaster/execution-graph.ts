/**
 * The execution graph of one job attempt: every parallel subtask of every job vertex, its state
 * and the slot it runs in. Pure bookkeeping; the JobMaster machine drives it.
 *
 * Slot sharing: a slot sharing group gets as many slots as its most parallel vertex, and
 * subtask i of every vertex in the group goes to the group's slot i, so that one slot holds a
 * whole pipeline of the job (the seed's example: five subtasks in two slots).
 */
import type { WireError } from '../../lib/errors.js';
import type { JobGraph } from '../../lib/dataflow/jobgraph.js';
import { ExecutionState, executionIdOf, isTerminal, type TaskLocation, type TaskMetrics } from '../../lib/task/descriptor.js';
import type { OfferedSlot } from './protocol.js';
import type { SubtaskStatus } from './status.js';

export interface HeldSlot<TeRef> extends OfferedSlot {
  taskExecutorId: string;
  taskExecutor: TeRef;
  dataAddress: string;
}

export interface ExecutionVertex<TeRef> {
  vertexId: string;
  index: number;
  executionId: string;
  state: ExecutionState;
  slot: HeldSlot<TeRef> | null;
  metrics: TaskMetrics;
  error?: WireError;
}

/** Which states a subtask may move to from each state; anything else is ignored. */
const NEXT: Record<ExecutionState, readonly ExecutionState[]> = {
  created: ['scheduled', 'canceled', 'failed'],
  scheduled: ['deploying', 'canceled', 'failed'],
  deploying: ['running', 'finished', 'canceling', 'canceled', 'failed'],
  running: ['finished', 'canceling', 'canceled', 'failed'],
  canceling: ['canceled', 'finished', 'failed'],
  finished: [],
  canceled: [],
  failed: [],
};

const NO_METRICS: TaskMetrics = { recordsIn: 0, recordsOut: 0, backPressuredMs: 0 };

export class ExecutionGraph<TeRef> {
  readonly subtasks: Array<ExecutionVertex<TeRef>> = [];
  private readonly byExecution = new Map<string, ExecutionVertex<TeRef>>();
  private readonly slotsByGroup = new Map<string, Array<HeldSlot<TeRef>>>();
  readonly slotCountByGroup = new Map<string, number>();

  constructor(
    readonly jobId: string,
    readonly jobGraph: JobGraph,
    readonly attempt: number,
  ) {
    for (const vertex of jobGraph.vertices) {
      const current = this.slotCountByGroup.get(vertex.slotSharingGroup) ?? 0;
      this.slotCountByGroup.set(vertex.slotSharingGroup, Math.max(current, vertex.parallelism));
      for (let index = 0; index < vertex.parallelism; index++) {
        const ev: ExecutionVertex<TeRef> = {
          vertexId: vertex.id,
          index,
          executionId: executionIdOf(jobId, attempt, vertex.id, index),
          state: ExecutionState.Created,
          slot: null,
          metrics: { ...NO_METRICS },
        };
        this.subtasks.push(ev);
        this.byExecution.set(ev.executionId, ev);
      }
    }
  }

  /** Slots to declare to the ResourceManager, per slot sharing group. */
  requirements(): Array<{ group: string; count: number }> {
    return [...this.slotCountByGroup].map(([group, count]) => ({ group, count }));
  }

  requiredSlots(): number {
    let n = 0;
    for (const count of this.slotCountByGroup.values()) n += count;
    return n;
  }

  heldSlots(): Array<HeldSlot<TeRef>> {
    return [...this.slotsByGroup.values()].flat();
  }

  /** Take an offered slot; returns false when the group already has all it needs. */
  offer(slot: HeldSlot<TeRef>): boolean {
    const held = this.slotsByGroup.get(slot.group) ?? [];
    if (held.some((s) => s.allocationId === slot.allocationId)) return true;
    if (held.length >= (this.slotCountByGroup.get(slot.group) ?? 0)) return false;
    held.push(slot);
    this.slotsByGroup.set(slot.group, held);
    return true;
  }

  hasAllSlots(): boolean {
    for (const [group, count] of this.slotCountByGroup) if ((this.slotsByGroup.get(group)?.length ?? 0) < count) return false;
    return true;
  }

  /** Place every subtask in its group's slot i and mark it scheduled. Requires all slots. */
  schedule(): void {
    for (const vertex of this.jobGraph.vertices) {
      const slots = this.slotsByGroup.get(vertex.slotSharingGroup)!;
      for (const ev of this.subtasks) {
        if (ev.vertexId !== vertex.id) continue;
        ev.slot = slots[ev.index % slots.length]!;
        this.transition(ev, ExecutionState.Scheduled);
      }
    }
  }

  /**
   * A new leader adopts a subtask that runs on: it takes the slot it runs in (offered with the
   * TaskExecutor's report) and is running at once, without a deployment. False if the slot does
   * not fit (its group has all it needs) or the subtask is past `created`.
   */
  adopt(executionId: string, slot: HeldSlot<TeRef>): boolean {
    const ev = this.byExecution.get(executionId);
    if (!ev || ev.state !== ExecutionState.Created || !this.offer(slot)) return false;
    ev.slot = slot;
    for (const next of [ExecutionState.Scheduled, ExecutionState.Deploying, ExecutionState.Running]) this.transition(ev, next);
    return true;
  }

  location(vertexId: string, index: number): TaskLocation {
    const ev = this.subtasks.find((s) => s.vertexId === vertexId && s.index === index);
    if (!ev?.slot) throw new Error(`subtask ${vertexId}#${index} has no slot`);
    return { taskExecutorId: ev.slot.taskExecutorId, dataAddress: ev.slot.dataAddress };
  }

  get(executionId: string): ExecutionVertex<TeRef> | undefined {
    return this.byExecution.get(executionId);
  }

  /** Apply a state change if the state machine of a subtask allows it. */
  transition(ev: ExecutionVertex<TeRef>, next: ExecutionState, error?: WireError): boolean {
    if (!NEXT[ev.state].includes(next)) return false;
    ev.state = next;
    if (error) ev.error = error;
    return true;
  }

  update(executionId: string, next: ExecutionState, error?: WireError, metrics?: TaskMetrics): boolean {
    const ev = this.byExecution.get(executionId);
    if (!ev) return false;
    if (metrics) ev.metrics = metrics;
    return this.transition(ev, next, error);
  }

  allFinished(): boolean {
    return this.subtasks.every((s) => s.state === ExecutionState.Finished);
  }

  allTerminal(): boolean {
    return this.subtasks.every((s) => isTerminal(s.state));
  }

  firstFailure(): ExecutionVertex<TeRef> | undefined {
    return this.subtasks.find((s) => s.state === ExecutionState.Failed);
  }

  onTaskExecutor(taskExecutorId: string): Array<ExecutionVertex<TeRef>> {
    return this.subtasks.filter((s) => s.slot?.taskExecutorId === taskExecutorId);
  }

  status(): SubtaskStatus[] {
    return this.subtasks.map((s) => ({
      vertexId: s.vertexId,
      index: s.index,
      executionId: s.executionId,
      state: s.state,
      taskExecutorId: s.slot?.taskExecutorId ?? null,
      slotIndex: s.slot?.slotIndex ?? null,
      metrics: s.metrics,
      ...(s.error ? { error: s.error } : {}),
    }));
  }
}
