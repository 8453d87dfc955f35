/**
 * The TaskExecutor: a worker process with a fixed number of slots. It registers with the
 * leader's ResourceManager, offers slots to JobMasters when the ResourceManager asks, runs the
 * tasks it is given (each in its own worker thread, through the TaskRunner), and reports their
 * states to their JobMasters.
 *
 * States: `disconnected` (no leader known) → `registering` (asking the ResourceManager, retried
 * with a delay) → `registered`. A lost ResourceManager or a new leader sends it back to
 * `registering`; its tasks belonged to the old leader's jobs and are cancelled. So does a
 * ResourceManager that stops heartbeating (`registered.heartbeating` times out): it has dropped
 * this TaskExecutor (a partition shorter than a dead connection takes to notice, a paused
 * process) and restarted its tasks elsewhere, and would never heartbeat it again.
 */
import { assign, enqueueActions, fromPromise, setup } from 'xstate';
import { reply, type ActorEnv, type ActorRef } from '../../lib/index.js';
import { toWireError } from '../../lib/errors.js';
import type { CheckpointOptions, TaskDeploymentDescriptor, TaskEvent } from '../../lib/task/descriptor.js';
import type { JobMasterMessage } from '../jobmaster/protocol.js';
import type { MasterMessage } from '../master/protocol.js';
import type { RegistrationSuccess, ResourceManagerMessage } from '../resourcemanager/protocol.js';
import type { SlotProfile } from '../resourcemanager/slot-manager.js';
import { CodeCache } from './code-cache.js';
import type { SlotReport, TaskExecutorLocalEvent, TaskExecutorMessage, TaskExecutorResources } from './protocol.js';

/** What the TaskExecutor needs of the task runtime (lib/task's TaskRunner). */
export interface TaskRuntime {
  deploy(
    tdd: TaskDeploymentDescriptor,
    slot: { managedMemoryBytes: number },
    onEvent: (event: TaskEvent) => void,
  ): void;
  cancel(executionId: string): void;
  cancelJob(jobId: string): void;
  triggerCheckpoint(executionId: string, checkpointId: number, options: CheckpointOptions): void;
  notifyCheckpointComplete(jobId: string, attempt: number, checkpointId: number): void;
  notifyCheckpointAborted(jobId: string, attempt: number, checkpointId: number): void;
}

export interface TaskExecutorInput {
  env: ActorEnv;
  taskExecutorId: string;
  slots: SlotProfile[];
  dataAddress: string;
  runtime: TaskRuntime;
  codeCache: CodeCache;
  registrationTimeoutMs: number;
  registrationRetryMs: number;
  /** The process's resources for heartbeat answers (the dashboard's TaskExecutor charts); none if absent. */
  sampleResources?: () => TaskExecutorResources;
  /** Called when the leader shuts the cluster down (application mode); the process exits. */
  onShutdown: () => void;
}

type Event = TaskExecutorMessage | TaskExecutorLocalEvent;

interface SlotUse {
  allocationId: string;
  jobId: string;
  jobMaster: ActorRef<JobMasterMessage>;
}

interface Execution {
  jobId: string;
  jobMaster: ActorRef<JobMasterMessage>;
}

/** A task waiting for its job's code (a child actor per task, see `fetchCode`). */
interface Deployment {
  tdd: TaskDeploymentDescriptor;
  managedMemoryBytes: number;
}

/** Children fetching a task's code are named by this prefix and the execution id. */
const FETCH_PREFIX = 'fetch-';

interface Context extends TaskExecutorInput {
  masterNode: string | null;
  resourceManager: ActorRef<ResourceManagerMessage> | null;
  leaderSessionId: string | null;
  /** From the registration: silence from the ResourceManager longer than this means it dropped us. */
  heartbeatSilenceMs: number;
  slotUse: Map<number, SlotUse>;
  executions: Map<string, Execution>;
  unwatch: (() => void) | null;
}

export const taskExecutorMachine = setup({
  types: { context: {} as Context, events: {} as Event, input: {} as TaskExecutorInput },
  delays: {
    retry: ({ context }) => context.registrationRetryMs,
    resourceManagerSilence: ({ context }) => context.heartbeatSilenceMs,
  },
  actors: {
    register: fromPromise<RegistrationSuccess, { context: Context }>(({ input: { context } }) => {
      const rm = context.env.system.ref<ResourceManagerMessage>(context.masterNode!, 'resourcemanager');
      return rm.ask(
        {
          type: 'rm.te.register',
          taskExecutorId: context.taskExecutorId,
          taskExecutor: context.env.self as ActorRef<TaskExecutorMessage>,
          dataAddress: context.dataAddress,
          slots: context.slots,
        },
        { timeoutMs: context.registrationTimeoutMs },
      );
    }),
    // One per submitted task, a child of the machine: leaving `registered` stops it, so that a
    // task of a session that ended while its code was on the way is never deployed.
    fetchCode: fromPromise<Deployment & { jobModulePath: string }, Deployment & { codeCache: CodeCache; codeHash: string; master: ActorRef<MasterMessage> }>(
      async ({ input: { codeCache, codeHash, master, ...deployment } }) => ({ ...deployment, jobModulePath: await codeCache.fetch(codeHash, master) }),
    ),
  },
  guards: {
    fromCurrentLeader: ({ context, event }) => {
      const sessionId = (event as { leaderSessionId?: string }).leaderSessionId;
      if (sessionId === context.leaderSessionId) return true;
      context.env.log.warn({ type: event.type, received: sessionId, current: context.leaderSessionId }, 'rejected a message of a stale leader session');
      return false;
    },
    isResourceManager: ({ context, event }) =>
      event.type === 'actor.terminated' && context.resourceManager !== null && event.ref.equals(context.resourceManager),
    hasLeader: ({ event }) => event.type === 'te.leader.changed' && event.masterNode !== null,
  },
  actions: {
    setLeader: assign({ masterNode: ({ event }) => (event.type === 'te.leader.changed' ? event.masterNode : null) }),
    dropLeaderSession: ({ context }) => {
      // Everything the old leader's jobs ran here is cancelled: a new leader restarts them.
      for (const jobId of new Set([...context.slotUse.values()].map((s) => s.jobId))) context.runtime.cancelJob(jobId);
      context.slotUse.clear();
      context.unwatch?.();
      context.unwatch = null;
      context.resourceManager = null;
      context.leaderSessionId = null;
    },
    heartbeat: ({ context, event }) => {
      if (event.type !== 'te.heartbeat') return;
      reply(event.replyTo, slotReport(context));
    },
    offerSlot: ({ context, event }) => {
      if (event.type !== 'te.slots.request') return;
      const used = context.slotUse.get(event.slotIndex);
      if (used && used.allocationId !== event.allocationId) {
        context.env.log.warn({ slot: event.slotIndex, held: used.allocationId, requested: event.allocationId }, 'slot already allocated');
        return;
      }
      if (!context.slots.some((s) => s.index === event.slotIndex)) {
        context.env.log.warn({ slot: event.slotIndex }, 'slot request for a slot this TaskExecutor does not have');
        return;
      }
      context.slotUse.set(event.slotIndex, { allocationId: event.allocationId, jobId: event.jobId, jobMaster: event.jobMaster });
      tellSafely(context, event.jobMaster, {
        type: 'jm.slots.offer',
        taskExecutorId: context.taskExecutorId,
        taskExecutor: context.env.self as ActorRef<TaskExecutorMessage>,
        dataAddress: context.dataAddress,
        slots: [{ allocationId: event.allocationId, slotIndex: event.slotIndex, group: event.group }],
      });
    },
    freeSlots: enqueueActions(({ context, event, self, enqueue }) => {
      if (event.type !== 'te.slots.free') return;
      context.runtime.cancelJob(event.jobId);
      for (const [index, use] of context.slotUse) if (use.jobId === event.jobId) context.slotUse.delete(index);
      // Its tasks still waiting for their code are not the runtime's yet: they never run.
      for (const id of Object.keys(self.getSnapshot().children)) {
        const executionId = id.slice(FETCH_PREFIX.length);
        if (!id.startsWith(FETCH_PREFIX) || context.executions.get(executionId)?.jobId !== event.jobId) continue;
        enqueue.stopChild(id);
        context.executions.delete(executionId);
      }
    }),
    submitTask: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'te.task.submit') return;
      const { tdd } = event;
      const slot = [...context.slotUse.entries()].find(([, use]) => use.allocationId === event.allocationId);
      if (!slot || slot[1].jobId !== tdd.jobId) {
        context.env.log.warn({ executionId: tdd.executionId, allocationId: event.allocationId }, 'task submitted to a slot not allocated to its job');
        return;
      }
      if (context.executions.has(tdd.executionId)) {
        context.env.log.warn({ executionId: tdd.executionId }, 'task submitted twice; the second is ignored');
        return;
      }
      const [slotIndex, use] = slot;
      context.executions.set(tdd.executionId, { jobId: tdd.jobId, jobMaster: use.jobMaster });
      const master = context.env.system.ref<MasterMessage>(context.masterNode!, 'master');
      const managedMemoryBytes = context.slots.find((s) => s.index === slotIndex)!.managedMemoryBytes;
      enqueue.spawnChild('fetchCode', {
        id: `${FETCH_PREFIX}${tdd.executionId}`,
        input: { tdd, managedMemoryBytes, codeCache: context.codeCache, codeHash: event.codeHash, master },
      });
    }),
    deployFetched: enqueueActions(({ context, event, enqueue }) => {
      const { actorId, output } = event as unknown as { actorId: string; output?: Deployment & { jobModulePath: string } };
      if (!actorId.startsWith(FETCH_PREFIX) || !output) return;
      enqueue.stopChild(actorId);
      const { tdd, managedMemoryBytes, jobModulePath } = output;
      if (!context.executions.has(tdd.executionId)) return; // cancelled meanwhile
      context.runtime.deploy({ ...tdd, jobModulePath }, { managedMemoryBytes }, (taskEvent) =>
        context.env.self.tell({ type: 'te.task.event', event: taskEvent }),
      );
    }),
    codeNotFetched: enqueueActions(({ event, enqueue }) => {
      const { actorId, error } = event as unknown as { actorId: string; error: unknown };
      if (!actorId.startsWith(FETCH_PREFIX)) return;
      enqueue.stopChild(actorId);
      const executionId = actorId.slice(FETCH_PREFIX.length);
      enqueue.raise({ type: 'te.task.event', event: { type: 'task.state', executionId, state: 'failed', error: toWireError(error) } });
    }),
    /** The session is over: tasks still waiting for their code are dropped, never deployed. */
    stopFetches: enqueueActions(({ context, self, enqueue }) => {
      for (const id of Object.keys(self.getSnapshot().children)) {
        if (!id.startsWith(FETCH_PREFIX)) continue;
        enqueue.stopChild(id);
        context.executions.delete(id.slice(FETCH_PREFIX.length));
      }
    }),
    triggerCheckpoint: ({ context, event }) => {
      if (event.type !== 'te.checkpoint.trigger' || !context.executions.has(event.executionId)) return;
      context.runtime.triggerCheckpoint(event.executionId, event.checkpointId, event.options);
    },
    notifyCheckpoint: ({ context, event }) => {
      if (event.type !== 'te.checkpoint.notify') return;
      if (event.outcome === 'complete') context.runtime.notifyCheckpointComplete(event.jobId, event.attempt, event.checkpointId);
      else context.runtime.notifyCheckpointAborted(event.jobId, event.attempt, event.checkpointId);
    },
    cancelTask: enqueueActions(({ context, event, self, enqueue }) => {
      if (event.type !== 'te.task.cancel') return;
      if (!context.executions.has(event.executionId)) return;
      const fetching = `${FETCH_PREFIX}${event.executionId}`;
      if (self.getSnapshot().children[fetching]) {
        // Not deployed yet (its code is on the way): it never runs, and its JobMaster hears so now
        // instead of waiting out its cancel timeout.
        enqueue.stopChild(fetching);
        enqueue.raise({ type: 'te.task.event', event: { type: 'task.state', executionId: event.executionId, state: 'canceled' } });
        return;
      }
      context.runtime.cancel(event.executionId);
    }),
    forwardTaskEvent: ({ context, event }) => {
      if (event.type !== 'te.task.event') return;
      const e = event.event;
      const execution = context.executions.get(e.executionId);
      if (!execution) return;
      if (e.type === 'task.state') {
        if (e.state !== 'running') context.executions.delete(e.executionId);
        tellSafely(context, execution.jobMaster, {
          type: 'jm.task.state',
          executionId: e.executionId,
          state: e.state,
          ...(e.error ? { error: e.error } : {}),
          ...(e.metrics ? { metrics: e.metrics } : {}),
        });
      } else {
        tellSafely(context, execution.jobMaster, toJobMaster(e));
      }
    },
  },
}).createMachine({
  id: 'taskexecutor',
  context: ({ input }) => ({
    ...input,
    masterNode: null,
    resourceManager: null,
    leaderSessionId: null,
    heartbeatSilenceMs: Number.MAX_SAFE_INTEGER,
    slotUse: new Map(),
    executions: new Map(),
    unwatch: null,
  }),
  initial: 'disconnected',
  on: {
    'te.task.event': { actions: 'forwardTaskEvent' },
  },
  states: {
    disconnected: {
      on: {
        // Still no leader (leader retrieval's first answer when none leads) is taken, not reported.
        'te.leader.changed': [{ guard: 'hasLeader', target: 'registering', actions: 'setLeader' }, { actions: 'setLeader' }],
      },
    },
    registering: {
      invoke: {
        src: 'register',
        input: ({ context }) => ({ context }),
        onDone: {
          target: 'registered',
          actions: assign(({ context, event }) => {
            const rm = context.env.system.ref<ResourceManagerMessage>(context.masterNode!, 'resourcemanager');
            context.env.log.info({ resourceManager: rm.path, leaderSessionId: event.output.leaderSessionId }, 'registered');
            return {
              resourceManager: rm,
              leaderSessionId: event.output.leaderSessionId,
              heartbeatSilenceMs: event.output.heartbeatSilenceMs,
              unwatch: context.env.system.watch(rm, context.env.self),
            };
          }),
        },
        onError: {
          target: 'waitingToRetry',
          actions: ({ context, event }) =>
            context.env.log.warn({ err: event.error, master: context.masterNode }, 'registration failed; will retry'),
        },
      },
      on: {
        'te.leader.changed': [
          { guard: 'hasLeader', target: 'registering', reenter: true, actions: 'setLeader' },
          { target: 'disconnected', actions: 'setLeader' },
        ],
      },
    },
    waitingToRetry: {
      after: { retry: 'registering' },
      on: {
        'te.leader.changed': [
          { guard: 'hasLeader', target: 'registering', actions: 'setLeader' },
          { target: 'disconnected', actions: 'setLeader' },
        ],
      },
    },
    registered: {
      initial: 'heartbeating',
      exit: 'stopFetches',
      states: {
        heartbeating: {
          on: {
            // Re-enters `heartbeating` only (its silence timer starts again), never `registered`,
            // whose exit ends the session's fetches.
            'te.heartbeat': { guard: 'fromCurrentLeader', target: 'heartbeating', reenter: true, actions: 'heartbeat' },
          },
          after: {
            resourceManagerSilence: {
              target: '#taskexecutor.registering',
              actions: [
                ({ context }) => context.env.log.warn({ silentForMs: context.heartbeatSilenceMs }, 'no heartbeat from the ResourceManager; registering again'),
                'dropLeaderSession',
              ],
            },
          },
        },
      },
      on: {
        'te.slots.request': { guard: 'fromCurrentLeader', actions: 'offerSlot' },
        'te.slots.free': { guard: 'fromCurrentLeader', actions: 'freeSlots' },
        'te.task.submit': { guard: 'fromCurrentLeader', actions: 'submitTask' },
        'te.task.cancel': { guard: 'fromCurrentLeader', actions: 'cancelTask' },
        'te.checkpoint.trigger': { guard: 'fromCurrentLeader', actions: 'triggerCheckpoint' },
        'te.checkpoint.notify': { guard: 'fromCurrentLeader', actions: 'notifyCheckpoint' },
        'xstate.done.actor.*': { actions: 'deployFetched' },
        'xstate.error.actor.*': { actions: 'codeNotFetched' },
        'te.shutdown': {
          guard: 'fromCurrentLeader',
          actions: ({ context }) => {
            context.env.log.info('the cluster is shutting down');
            context.onShutdown();
          },
        },
        'actor.terminated': {
          guard: 'isResourceManager',
          target: 'registering',
          actions: [
            ({ context, event }) => context.env.log.warn({ reason: event.type === 'actor.terminated' ? event.reason : '' }, 'ResourceManager lost'),
            'dropLeaderSession',
          ],
        },
        'te.leader.changed': [
          { guard: 'hasLeader', target: 'registering', actions: ['dropLeaderSession', 'setLeader'] },
          { target: 'disconnected', actions: ['dropLeaderSession', 'setLeader'] },
        ],
      },
    },
  },
});

/** Task events other than state changes, as JobMaster messages. */
function toJobMaster(e: Exclude<TaskEvent, { type: 'task.state' }>): JobMasterMessage {
  switch (e.type) {
    case 'task.collect':
      return { type: 'jm.task.collect', executionId: e.executionId, records: e.records };
    case 'task.metrics':
      return { type: 'jm.task.metrics', executionId: e.executionId, metrics: e.metrics };
    case 'task.checkpoint.ack':
      return { type: 'jm.checkpoint.ack', executionId: e.executionId, checkpointId: e.checkpointId, handle: e.handle };
    case 'task.checkpoint.declined':
      return { type: 'jm.checkpoint.declined', executionId: e.executionId, checkpointId: e.checkpointId, error: e.error };
    case 'task.source.exhausted':
      return { type: 'jm.source.exhausted', executionId: e.executionId };
  }
}

function slotReport(context: Context): SlotReport {
  return {
    taskExecutorId: context.taskExecutorId,
    slots: context.slots.map((s) => {
      const use = context.slotUse.get(s.index);
      return { index: s.index, allocationId: use?.allocationId ?? null, jobId: use?.jobId ?? null };
    }),
    ...(context.sampleResources ? { resources: context.sampleResources() } : {}),
  };
}

function tellSafely<M>(context: Context, ref: ActorRef<M>, message: M): void {
  try {
    ref.tell(message);
  } catch (err) {
    context.env.log.warn({ err, to: ref.path }, 'message not sent');
  }
}
