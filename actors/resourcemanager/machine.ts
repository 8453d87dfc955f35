/**
 * The ResourceManager: TaskExecutors register their slots with it, JobMasters declare the slots
 * they need, and it assigns free slots (asking each TaskExecutor to offer them to the job).
 * It heartbeats every TaskExecutor and watches it, so a lost TaskExecutor is noticed at once
 * (connection lost) or within the heartbeat timeout (a paused or hung process).
 *
 * It runs only on the leading Master, for one leader session; a new leader starts a new one.
 * States: `serving` until stopped.
 *
 * A leader change keeps tasks running (see the TaskExecutor): a TaskExecutor registers with the
 * new ResourceManager reporting the slots it kept (allocated by an older session) and their
 * tasks. Those slots stay allocated to their job, and the reports wait for the job's new
 * JobMaster (`rm.job.reconcile`), which adopts the tasks or releases the slots and restarts the
 * job. Reports of a job whose JobMaster already chose to restart are freed at once (the
 * TaskExecutor cancels them), so are allocations of this session itself (it dropped the
 * TaskExecutor once and told the job). A TaskExecutor that cancels orphans nobody adopted
 * reports the slots free in its heartbeat answers; they are freed here then.
 */
import { enqueueActions, fromCallback, setup } from 'xstate';
import { admitSession, compareSessions } from '../fencing.js';
import { reply, replyError, type ActorEnv, type ActorRef } from '../../lib/index.js';
import { isWildcardHost, parseHostPort } from '../../lib/util/host-address.js';
import { RegistrationRefusedError, ResourceManagerErrorCode } from './errors.js';
import type { JobMasterMessage } from '../jobmaster/protocol.js';
import type { AllocationReport, ExecutionReport, TaskExecutorMessage, TaskExecutorResources } from '../taskexecutor/protocol.js';
import type { ClusterOverview, ResourceManagerMessage } from './protocol.js';
import { SlotManager, type SlotAllocation } from './slot-manager.js';

export interface ResourceManagerInput {
  env: ActorEnv;
  leaderSessionId: string;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
}

interface Context extends ResourceManagerInput {
  slots: SlotManager<ActorRef<TaskExecutorMessage>, ActorRef<JobMasterMessage>>;
  jobMasters: Map<string, ActorRef<JobMasterMessage>>;
  lastSeen: Map<string, number>;
  /** Each TaskExecutor's resources from its latest heartbeat answer. */
  resources: Map<string, TaskExecutorResources & { at: number }>;
  /** TaskExecutor id by the path of its ref, to map watch notices back. */
  byPath: Map<string, string>;
  /** Recovered jobs whose JobMaster is reconciling: reports of their tasks go to it. */
  reconciling: Set<string>;
  /** Reports of tasks kept through the leader change, by job and TaskExecutor, until the job's JobMaster asks. */
  orphans: Map<string, Map<string, OrphanReport>>;
  /** The jobs the Master recovered (null until it says): kept slots of other jobs have no one to adopt them. */
  recoveredJobs: Set<string> | null;
  /** Allocations of older sessions kept on TaskExecutors: freed once a heartbeat answer shows the slot free. */
  orphanAllocations: Set<string>;
}

interface OrphanReport {
  taskExecutorId: string;
  taskExecutor: ActorRef<TaskExecutorMessage>;
  dataAddress: string;
  allocations: AllocationReport[];
  executions: ExecutionReport[];
}

/** A heartbeat for the `heartbeats` child to ask. */
interface HeartbeatAsk {
  type: 'heartbeat.ask';
  taskExecutor: ActorRef<TaskExecutorMessage>;
}

interface HeartbeatsInput {
  env: ActorEnv;
  leaderSessionId: string;
  timeoutMs: number;
}

/**
 * The heartbeat asks in flight, as one child of the machine: each answer comes back as an
 * `rm.heartbeat.report`; a missed heartbeat shows as silence. Stopped with the machine, after
 * which late answers are dropped rather than told to a ResourceManager that is gone.
 */
const heartbeats = fromCallback<HeartbeatAsk, HeartbeatsInput>(({ input: { env, leaderSessionId, timeoutMs }, receive }) => {
  let stopped = false;
  receive(({ taskExecutor }) => {
    taskExecutor.ask({ type: 'te.heartbeat', leaderSessionId }, { timeoutMs }).then(
      (report) => {
        if (!stopped) env.self.tell({ type: 'rm.heartbeat.report', report, at: env.clock.now() });
      },
      () => undefined,
    );
  });
  return () => {
    stopped = true;
  };
});

const HEARTBEATS_ID = 'heartbeats';

export const resourceManagerMachine = setup({
  types: { context: {} as Context, events: {} as ResourceManagerMessage, input: {} as ResourceManagerInput },
  actors: { heartbeats },
  delays: { heartbeat: ({ context }) => context.heartbeatIntervalMs },
  actions: {
    register: ({ context, event }) => {
      if (event.type !== 'rm.te.register') return;
      const { env, slots } = context;
      const problem = dataAddressProblem(event.dataAddress);
      if (problem) {
        env.log.warn({ taskExecutor: event.taskExecutorId, dataAddress: event.dataAddress, problem }, 'TaskExecutor registration refused');
        replyError(
          event.replyTo,
          new RegistrationRefusedError(ResourceManagerErrorCode.InvalidDataAddress, `data address '${event.dataAddress}' ${problem}: set the TaskExecutor's advertisedHost`, {
            taskExecutorId: event.taskExecutorId,
          }),
        );
        return;
      }
      const known = slots.taskExecutor(event.taskExecutorId);
      if (known) {
        // Re-registration (a reconnect, or a restarted process with the same id): whatever it ran is gone.
        lose(context, event.taskExecutorId, 're-registered');
      }
      const { held, freed } = keptSlots(context, event.allocations ?? [], new Set(event.slots.map((s) => s.index)));
      slots.register(event.taskExecutorId, event.taskExecutor, event.dataAddress, event.slots, held);
      context.lastSeen.set(event.taskExecutorId, context.env.clock.now());
      context.byPath.set(event.taskExecutor.path, event.taskExecutorId);
      env.system.watch(event.taskExecutor, env.self);
      env.log.info(
        { taskExecutor: event.taskExecutorId, slots: event.slots.length, dataAddress: event.dataAddress, keptSlots: held.size, keptTasks: event.executions?.length ?? 0 },
        'TaskExecutor registered',
      );
      reply(event.replyTo, {
        leaderSessionId: context.leaderSessionId,
        resourceManagerId: env.self.path,
        heartbeatSilenceMs: context.heartbeatTimeoutMs + context.heartbeatIntervalMs,
        ...(freed.size > 0 ? { freeJobs: [...freed] } : {}),
      });
      const keptJobs = new Set([...held.values()].map((a) => a.jobId));
      for (const jobId of keptJobs) {
        const report: OrphanReport = {
          taskExecutorId: event.taskExecutorId,
          taskExecutor: event.taskExecutor,
          dataAddress: event.dataAddress,
          allocations: (event.allocations ?? []).filter((a) => a.jobId === jobId),
          executions: (event.executions ?? []).filter((e) => e.jobId === jobId),
        };
        const byTe = context.orphans.get(jobId) ?? new Map<string, OrphanReport>();
        byTe.set(event.taskExecutorId, report);
        context.orphans.set(jobId, byTe);
        if (context.reconciling.has(jobId)) forwardReport(context, jobId, report);
      }
    },
    reconcile: ({ context, event }) => {
      if (event.type !== 'rm.job.reconcile' || !admitSession(context.leaderSessionId, event, context.env.log)) return;
      context.jobMasters.set(event.jobId, event.jobMaster);
      context.reconciling.add(event.jobId);
      context.env.system.watch(event.jobMaster, context.env.self);
      const reports = [...(context.orphans.get(event.jobId)?.values() ?? [])];
      context.env.log.info({ jobId: event.jobId, taskExecutors: reports.length }, 'job reconciling: reporting the tasks kept through the leader change');
      for (const report of reports) forwardReport(context, event.jobId, report);
    },
    recovered: ({ context, event }) => {
      if (event.type !== 'rm.jobs.recovered' || !admitSession(context.leaderSessionId, event, context.env.log)) return;
      context.recoveredJobs = new Set(event.jobIds);
      for (const jobId of [...context.orphans.keys()]) {
        if (context.recoveredJobs.has(jobId)) continue;
        context.env.log.info({ jobId }, 'kept slots of a job that is not recovered: freed');
        releaseJob(context, jobId);
      }
    },
    adopted: ({ context, event }) => {
      if (event.type !== 'rm.job.adopted' || !admitSession(context.leaderSessionId, event, context.env.log)) return;
      context.reconciling.delete(event.jobId);
      context.orphans.delete(event.jobId);
    },
    declare: ({ context, event }) => {
      if (event.type !== 'rm.slots.declare' || !admitSession(context.leaderSessionId, event, context.env.log)) return;
      context.jobMasters.set(event.jobId, event.jobMaster);
      context.reconciling.delete(event.jobId);
      context.slots.declare(event.jobId, event.jobMaster, event.requirements, context.env.clock.now());
      context.env.system.watch(event.jobMaster, context.env.self);
      context.env.log.info({ jobId: event.jobId, requirements: event.requirements }, 'slots declared');
    },
    release: ({ context, event }) => {
      if (event.type !== 'rm.slots.release' || !admitSession(context.leaderSessionId, event, context.env.log)) return;
      releaseJob(context, event.jobId);
    },
    allocate: ({ context }) => {
      for (const a of context.slots.allocate()) {
        context.env.log.info(
          { jobId: a.jobId, taskExecutor: a.taskExecutor.id, slot: a.slotIndex, allocationId: a.allocation.allocationId },
          'slot allocated',
        );
        tellSafely(context, a.taskExecutor.ref, {
          type: 'te.slots.request',
          leaderSessionId: context.leaderSessionId,
          allocationId: a.allocation.allocationId,
          jobId: a.jobId,
          slotIndex: a.slotIndex,
          group: a.allocation.group,
          jobMaster: a.jobMaster,
        });
      }
    },
    heartbeat: enqueueActions(({ context, enqueue }) => {
      const now = context.env.clock.now();
      for (const [id, te] of context.slots.registered) {
        const silentFor = now - (context.lastSeen.get(id) ?? now);
        if (silentFor > context.heartbeatTimeoutMs) {
          lose(context, id, `no heartbeat for ${silentFor} ms`);
          continue;
        }
        enqueue.sendTo(HEARTBEATS_ID, { type: 'heartbeat.ask', taskExecutor: te.ref } satisfies HeartbeatAsk);
      }
    }),
    heartbeatReport: ({ context, event }) => {
      if (event.type !== 'rm.heartbeat.report') return;
      const id = event.report.taskExecutorId;
      if (!context.slots.taskExecutor(id)) return;
      context.lastSeen.set(id, event.at);
      // Orphans nobody adopted, cancelled by their TaskExecutor: their slots are free again.
      for (const slot of event.report.slots) {
        const held = context.slots.taskExecutor(id)?.slots.find((s) => s.index === slot.index)?.allocation;
        if (slot.allocationId !== null || !held || !context.orphanAllocations.has(held.allocationId)) continue;
        context.orphanAllocations.delete(held.allocationId);
        context.slots.freeSlot(id, slot.index, held.allocationId);
        context.env.log.info({ taskExecutor: id, slot: slot.index, jobId: held.jobId }, 'slot kept through the leader change is free again');
      }
      if (event.report.resources) context.resources.set(id, { ...event.report.resources, at: event.at });
    },
    terminated: ({ context, event }) => {
      if (event.type !== 'actor.terminated') return;
      const teId = context.byPath.get(event.ref.path);
      if (teId) {
        lose(context, teId, `TaskExecutor ${event.reason}${event.error ? `: ${event.error.message}` : ''}`);
        return;
      }
      for (const [jobId, jm] of context.jobMasters) if (jm.equals(event.ref)) releaseJob(context, jobId);
    },
    shutdown: ({ context, event }) => {
      if (event.type !== 'rm.shutdown' || !admitSession(context.leaderSessionId, event, context.env.log)) return;
      const all = [...context.slots.registered.values()];
      for (const te of all) tellSafely(context, te.ref, { type: 'te.shutdown', leaderSessionId: context.leaderSessionId });
      reply(event.replyTo, { taskExecutors: all.length });
    },
    overview: ({ context, event }) => {
      if (event.type !== 'rm.overview') return;
      reply(event.replyTo, overviewOf(context));
    },
  },
}).createMachine({
  id: 'resourcemanager',
  context: ({ input }) => ({ ...input, slots: new SlotManager(`alloc-${input.leaderSessionId}`),
    jobMasters: new Map(),
    lastSeen: new Map(),
    resources: new Map(),
    byPath: new Map(),
    reconciling: new Set(),
    recoveredJobs: null,
    orphans: new Map(),
    orphanAllocations: new Set(),
  }),
  // At the root, not in `serving`: that state is re-entered every interval, and the asks outlive one.
  invoke: {
    id: HEARTBEATS_ID,
    src: 'heartbeats',
    input: ({ context }) => ({ env: context.env, leaderSessionId: context.leaderSessionId, timeoutMs: context.heartbeatTimeoutMs }),
  },
  initial: 'serving',
  states: {
    serving: {
      after: { heartbeat: { target: 'serving', reenter: true, actions: 'heartbeat' } },
      on: {
        'rm.te.register': { actions: ['register', 'allocate'] },
        'rm.slots.declare': { actions: ['declare', 'allocate'] },
        'rm.slots.release': { actions: ['release', 'allocate'] },
        'rm.overview': { actions: 'overview' },
        'rm.shutdown': { actions: 'shutdown' },
        'rm.heartbeat.report': { actions: ['heartbeatReport', 'allocate'] },
        'rm.job.reconcile': { actions: 'reconcile' },
        'rm.job.adopted': { actions: 'adopted' },
        'rm.jobs.recovered': { actions: ['recovered', 'allocate'] },
        'actor.terminated': { actions: ['terminated', 'allocate'] },
      },
    },
  },
});

/**
 * Which reported allocations stay allocated (older sessions' slots of jobs whose JobMaster may
 * still adopt them) and which jobs' slots the TaskExecutor must free (this session's own, which
 * it dropped already, and jobs whose JobMaster chose to restart).
 */
function keptSlots(context: Context, reported: AllocationReport[], slotIndexes: ReadonlySet<number>): { held: Map<number, SlotAllocation>; freed: Set<string> } {
  const held = new Map<number, SlotAllocation>();
  const freed = new Set<string>();
  for (const a of reported) {
    const older = compareSessions(a.leaderSessionId, context.leaderSessionId) < 0;
    const restarted = context.jobMasters.has(a.jobId) && !context.reconciling.has(a.jobId);
    const notRecovered = context.recoveredJobs !== null && !context.recoveredJobs.has(a.jobId);
    if (!older || restarted || notRecovered || !slotIndexes.has(a.slotIndex) || held.has(a.slotIndex)) {
      freed.add(a.jobId);
      continue;
    }
    held.set(a.slotIndex, { allocationId: a.allocationId, jobId: a.jobId, group: a.group });
    context.orphanAllocations.add(a.allocationId);
  }
  // A job is kept or freed as a whole on one TaskExecutor.
  for (const [index, a] of held) {
    if (!freed.has(a.jobId)) continue;
    held.delete(index);
    context.orphanAllocations.delete(a.allocationId);
  }
  return { held, freed };
}

function forwardReport(context: Context, jobId: string, report: OrphanReport): void {
  const jobMaster = context.jobMasters.get(jobId);
  if (!jobMaster) return;
  tellSafely(context, jobMaster, { type: 'jm.executions.reported', leaderSessionId: context.leaderSessionId, ...report });
}

function lose(context: Context, taskExecutorId: string, reason: string): void {
  const te = context.slots.taskExecutor(taskExecutorId);
  if (!te) return;
  const jobs = context.slots.remove(taskExecutorId);
  for (const byTe of context.orphans.values()) byTe.delete(taskExecutorId);
  context.lastSeen.delete(taskExecutorId);
  context.resources.delete(taskExecutorId);
  context.byPath.delete(te.ref.path);
  context.env.log.warn({ taskExecutor: taskExecutorId, reason, jobs }, 'TaskExecutor lost');
  for (const jobId of jobs) {
    const jm = context.jobMasters.get(jobId);
    if (jm) tellSafely(context, jm, { type: 'jm.taskexecutor.lost', leaderSessionId: context.leaderSessionId, taskExecutorId, reason });
  }
}

function releaseJob(context: Context, jobId: string): void {
  context.jobMasters.delete(jobId);
  context.reconciling.delete(jobId);
  context.orphans.delete(jobId);
  for (const te of context.slots.release(jobId)) {
    tellSafely(context, te.ref, { type: 'te.slots.free', leaderSessionId: context.leaderSessionId, jobId });
  }
  context.env.log.info({ jobId, freeSlots: context.slots.freeSlots() }, 'slots released');
}

function tellSafely<M>(context: Context, ref: ActorRef<M>, message: M): void {
  try {
    ref.tell(message);
  } catch (err) {
    // The peer is unreachable: its death watch reports it, and the loss is handled there.
    context.env.log.warn({ err, to: ref.path }, 'message not sent');
  }
}

/** Peers dial a data address as it is: it must be `host:port` of a host that names someone. */
function dataAddressProblem(address: unknown): string | null {
  const parsed = typeof address === 'string' ? parseHostPort(address) : null;
  if (!parsed) return 'is not host:port';
  if (isWildcardHost(parsed.host)) return 'names a wildcard host, which peers cannot dial';
  return null;
}

function overviewOf(context: Context): ClusterOverview {
  const now = context.env.clock.now();
  return {
    leaderSessionId: context.leaderSessionId,
    taskExecutors: [...context.slots.registered.values()].map((te) => ({
      id: te.id,
      dataAddress: te.dataAddress,
      node: te.ref.node,
      slots: te.slots.map((s) => ({
        index: s.index,
        managedMemoryBytes: s.managedMemoryBytes,
        jobId: s.allocation?.jobId ?? null,
        allocationId: s.allocation?.allocationId ?? null,
        group: s.allocation?.group ?? null,
      })),
      resources: context.resources.get(te.id) ?? null,
    })),
    slotsTotal: context.slots.totalSlots(),
    slotsFree: context.slots.freeSlots(),
    waitingJobs: [...context.slots.waitingJobs.values()].map((j) => ({
      jobId: j.jobId,
      slots: j.requirements.reduce((n, r) => n + r.count, 0),
      sinceMs: now - j.since,
    })),
  };
}
