/**
 * The ResourceManager: TaskExecutors register their slots with it, JobMasters declare the slots
 * they need, and it assigns free slots (asking each TaskExecutor to offer them to the job).
 * It heartbeats every TaskExecutor and watches it, so a lost TaskExecutor is noticed at once
 * (connection lost) or within the heartbeat timeout (a paused or hung process).
 *
 * It runs only on the leading Master, for one leader session; a new leader starts a new one.
 * States: `serving` until stopped.
 */
import { setup } from 'xstate';
import { reply, replyError, type ActorEnv, type ActorRef } from '../../lib/index.js';
import { isWildcardHost, parseHostPort } from '../../lib/util/host-address.js';
import { RegistrationRefusedError, ResourceManagerErrorCode } from './errors.js';
import type { JobMasterMessage } from '../jobmaster/protocol.js';
import type { TaskExecutorMessage, TaskExecutorResources } from '../taskexecutor/protocol.js';
import type { ClusterOverview, ResourceManagerMessage } from './protocol.js';
import { SlotManager } from './slot-manager.js';

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
}

export const resourceManagerMachine = setup({
  types: { context: {} as Context, events: {} as ResourceManagerMessage, input: {} as ResourceManagerInput },
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
      slots.register(event.taskExecutorId, event.taskExecutor, event.dataAddress, event.slots);
      context.lastSeen.set(event.taskExecutorId, context.env.clock.now());
      context.byPath.set(event.taskExecutor.path, event.taskExecutorId);
      env.system.watch(event.taskExecutor, env.self);
      env.log.info({ taskExecutor: event.taskExecutorId, slots: event.slots.length, dataAddress: event.dataAddress }, 'TaskExecutor registered');
      reply(event.replyTo, {
        leaderSessionId: context.leaderSessionId,
        resourceManagerId: env.self.path,
        heartbeatSilenceMs: context.heartbeatTimeoutMs + context.heartbeatIntervalMs,
      });
    },
    declare: ({ context, event }) => {
      if (event.type !== 'rm.slots.declare' || !fenced(context, event.leaderSessionId)) return;
      context.jobMasters.set(event.jobId, event.jobMaster);
      context.slots.declare(event.jobId, event.jobMaster, event.requirements, context.env.clock.now());
      context.env.system.watch(event.jobMaster, context.env.self);
      context.env.log.info({ jobId: event.jobId, requirements: event.requirements }, 'slots declared');
    },
    release: ({ context, event }) => {
      if (event.type !== 'rm.slots.release' || !fenced(context, event.leaderSessionId)) return;
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
    heartbeat: ({ context }) => {
      const now = context.env.clock.now();
      for (const [id, te] of context.slots.registered) {
        const silentFor = now - (context.lastSeen.get(id) ?? now);
        if (silentFor > context.heartbeatTimeoutMs) {
          lose(context, id, `no heartbeat for ${silentFor} ms`);
          continue;
        }
        te.ref
          .ask({ type: 'te.heartbeat', leaderSessionId: context.leaderSessionId }, { timeoutMs: context.heartbeatTimeoutMs })
          .then(
            (report) => context.env.self.tell({ type: 'rm.heartbeat.report', report, at: context.env.clock.now() }),
            () => undefined, // a missed heartbeat shows as silence
          );
      }
    },
    heartbeatReport: ({ context, event }) => {
      if (event.type !== 'rm.heartbeat.report') return;
      const id = event.report.taskExecutorId;
      if (!context.slots.taskExecutor(id)) return;
      context.lastSeen.set(id, event.at);
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
      if (event.type !== 'rm.shutdown' || !fenced(context, event.leaderSessionId)) return;
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
  context: ({ input }) => ({ ...input, slots: new SlotManager(`alloc-${input.leaderSessionId}`), jobMasters: new Map(), lastSeen: new Map(), resources: new Map(), byPath: new Map() }),
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
        'rm.heartbeat.report': { actions: 'heartbeatReport' },
        'actor.terminated': { actions: ['terminated', 'allocate'] },
      },
    },
  },
});

function fenced(context: Context, sessionId: string): boolean {
  if (sessionId === context.leaderSessionId) return true;
  context.env.log.warn({ received: sessionId, current: context.leaderSessionId }, 'dropped a message of a stale leader session');
  return false;
}

function lose(context: Context, taskExecutorId: string, reason: string): void {
  const te = context.slots.taskExecutor(taskExecutorId);
  if (!te) return;
  const jobs = context.slots.remove(taskExecutorId);
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
