/**
 * The ResourceManager's book of slots: which TaskExecutors exist, which of their slots are free
 * or allocated to which job, and which jobs wait for slots. Pure bookkeeping, no messaging.
 *
 * Slot requests are all-or-nothing per job: a job gets slots only when all it declared can be
 * given at once, so that two jobs that each hold half of what they need cannot deadlock.
 * Slots are spread over TaskExecutors (most free slots first), so that losing one
 * TaskExecutor hurts as few subtasks as possible.
 */
export interface SlotProfile {
  index: number;
  managedMemoryBytes: number;
}

export interface SlotAllocation {
  allocationId: string;
  jobId: string;
  group: string;
}

export interface TaskExecutorSlots<Ref> {
  id: string;
  ref: Ref;
  dataAddress: string;
  slots: Array<SlotProfile & { allocation: SlotAllocation | null }>;
}

export interface SlotRequirement {
  group: string;
  count: number;
}

export interface PendingJob<JobRef> {
  jobId: string;
  jobMaster: JobRef;
  requirements: SlotRequirement[];
  since: number;
}

export interface Assignment<Ref, JobRef> {
  jobId: string;
  jobMaster: JobRef;
  taskExecutor: TaskExecutorSlots<Ref>;
  slotIndex: number;
  allocation: SlotAllocation;
}

export class SlotManager<Ref, JobRef> {
  private readonly taskExecutors = new Map<string, TaskExecutorSlots<Ref>>();
  private readonly pending = new Map<string, PendingJob<JobRef>>();
  private nextAllocation = 1;

  constructor(private readonly allocationPrefix: string) {}

  get registered(): ReadonlyMap<string, TaskExecutorSlots<Ref>> {
    return this.taskExecutors;
  }

  get waitingJobs(): ReadonlyMap<string, PendingJob<JobRef>> {
    return this.pending;
  }

  taskExecutor(id: string): TaskExecutorSlots<Ref> | undefined {
    return this.taskExecutors.get(id);
  }

  /**
   * Add (or replace, on re-registration) a TaskExecutor. Its slots start free, except those it
   * kept for jobs through a leader change (`held`, by slot index), whose tasks a JobMaster may adopt.
   */
  register(id: string, ref: Ref, dataAddress: string, slots: SlotProfile[], held: ReadonlyMap<number, SlotAllocation> = new Map()): void {
    this.taskExecutors.set(id, { id, ref, dataAddress, slots: slots.map((s) => ({ ...s, allocation: held.get(s.index) ?? null })) });
  }

  /** Free one slot whose allocation ended outside a release (its TaskExecutor reports it free); true if it was held by `allocationId`. */
  freeSlot(id: string, index: number, allocationId: string): boolean {
    const slot = this.taskExecutors.get(id)?.slots.find((s) => s.index === index);
    if (slot?.allocation?.allocationId !== allocationId) return false;
    slot.allocation = null;
    return true;
  }

  /** Remove a TaskExecutor; returns the jobs that had slots on it. */
  remove(id: string): string[] {
    const te = this.taskExecutors.get(id);
    if (!te) return [];
    this.taskExecutors.delete(id);
    return [...new Set(te.slots.flatMap((s) => (s.allocation ? [s.allocation.jobId] : [])))];
  }

  /** A job declares what it needs; replaces an earlier declaration. */
  declare(jobId: string, jobMaster: JobRef, requirements: SlotRequirement[], now: number): void {
    this.pending.set(jobId, { jobId, jobMaster, requirements: requirements.filter((r) => r.count > 0), since: now });
  }

  /** Assign free slots to waiting jobs, oldest first, each job all at once or not at all. */
  allocate(): Array<Assignment<Ref, JobRef>> {
    const out: Array<Assignment<Ref, JobRef>> = [];
    const waiting = [...this.pending.values()].sort((a, b) => a.since - b.since);
    for (const job of waiting) {
      const needed = job.requirements.reduce((sum, r) => sum + r.count, 0);
      if (needed > this.freeSlots()) continue;
      this.pending.delete(job.jobId);
      for (const requirement of job.requirements) {
        for (let i = 0; i < requirement.count; i++) {
          const te = this.leastLoaded()!;
          const slot = te.slots.find((s) => s.allocation === null)!;
          slot.allocation = { allocationId: `${this.allocationPrefix}-${this.nextAllocation++}`, jobId: job.jobId, group: requirement.group };
          out.push({ jobId: job.jobId, jobMaster: job.jobMaster, taskExecutor: te, slotIndex: slot.index, allocation: slot.allocation });
        }
      }
    }
    return out;
  }

  /** Free a job's slots and forget its request; returns the TaskExecutors that held them. */
  release(jobId: string): Array<TaskExecutorSlots<Ref>> {
    this.pending.delete(jobId);
    const touched: Array<TaskExecutorSlots<Ref>> = [];
    for (const te of this.taskExecutors.values()) {
      let hit = false;
      for (const slot of te.slots) {
        if (slot.allocation?.jobId === jobId) {
          slot.allocation = null;
          hit = true;
        }
      }
      if (hit) touched.push(te);
    }
    return touched;
  }

  freeSlots(): number {
    let free = 0;
    for (const te of this.taskExecutors.values()) free += te.slots.filter((s) => s.allocation === null).length;
    return free;
  }

  totalSlots(): number {
    let total = 0;
    for (const te of this.taskExecutors.values()) total += te.slots.length;
    return total;
  }

  private leastLoaded(): TaskExecutorSlots<Ref> | undefined {
    let best: TaskExecutorSlots<Ref> | undefined;
    let bestFree = 0;
    for (const te of this.taskExecutors.values()) {
      const free = te.slots.filter((s) => s.allocation === null).length;
      if (free > bestFree) {
        best = te;
        bestFree = free;
      }
    }
    return best;
  }
}
