/**
 * The TaskExecutor: a worker process with a fixed number of slots. It registers with the
 * leader's ResourceManager, offers slots to JobMasters when the ResourceManager asks, runs the
 * tasks it is given (each in its own worker thread, through the TaskRunner), and reports their
 * states to their JobMasters.
 *
 * Two parallel regions:
 *
 * `session`: `disconnected` (no leader known) → `registering` (asking the ResourceManager,
 * retried with a delay) → `registered`. A lost ResourceManager, a new leader, or a
 * ResourceManager that stops heartbeating (`registered.heartbeating` times out: a paused or
 * partitioned leader) sends it back to `registering`. Its tasks are NOT cancelled then: they
 * keep running and exchanging records with the other TaskExecutors (the data plane does not go
 * through the Master). They become orphans: their pending checkpoints are abandoned, nothing of
 * them is reported to the old JobMaster any more, and the registration with the next leader
 * reports them (slots, allocations, executions) so that its JobMaster can adopt them.
 *
 * `adoption`: `idle` while no task is an orphan; `waiting` while one is, for at most
 * `adoptionTimeoutMs`; then the orphans still not adopted are cancelled, as before this
 * TaskExecutor learned to keep them (a new leader that does not adopt them restarted the job).
 *
 * Fencing (actors/fencing.ts): the TaskExecutor remembers the newest leader session it accepted
 * (a registration), each task the session that deployed or adopted it; a command of an older
 * session is refused with STALE_LEADER, so a zombie leader can neither trigger, commit nor
 * cancel anything once a newer one spoke.
 */
import { assign, enqueueActions, fromPromise, setup } from 'xstate';
import { reply, type ActorEnv, type ActorRef } from '../../lib/index.js';
import { RuntimeError, toWireError } from '../../lib/errors.js';
import { LeaderFence, compareSessions, isCurrentSession, refuseStale, type Fenced } from '../fencing.js';
import type { CheckpointOptions, TaskDeploymentDescriptor, TaskEvent } from '../../lib/task/descriptor.js';
import type { JobMasterMessage } from '../jobmaster/protocol.js';
import type { MasterMessage } from '../master/protocol.js';
import type { RegistrationSuccess, ResourceManagerMessage } from '../resourcemanager/protocol.js';
import type { SlotProfile } from '../resourcemanager/slot-manager.js';
import { CodeCache } from './code-cache.js';
import { TaskExecutorErrorCode } from './errors.js';
import type { AllocationReport, ExecutionReport, SlotReport, TaskExecutorLocalEvent, TaskExecutorMessage, TaskExecutorResources } from './protocol.js';

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
  /** The leader is gone: the job's subtasks here abandon the checkpoint they have in flight. */
  abortPendingCheckpoints(jobId: string): void;
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
  /** How long tasks run on without a leader that adopts them before they are cancelled. */
  adoptionTimeoutMs: number;
  /** The process's resources for heartbeat answers (the dashboard's TaskExecutor charts); none if absent. */
  sampleResources?: () => TaskExecutorResources;
  /** Called when the leader shuts the cluster down (application mode); the process exits. */
  onShutdown: () => void;
  /**
   * The simulator's mutant only (lib/sim, `--mutant te-session-check`): accept commands of any
   * leader session, to prove that the simulator notices. Never set in a real process.
   */
  testHooks?: { acceptAnySession?: boolean };
}

type Event = TaskExecutorMessage | TaskExecutorLocalEvent;

interface SlotUse {
  allocationId: string;
  jobId: string;
  group: string;
  jobMaster: ActorRef<JobMasterMessage>;
  /** The session that allocated it, or adopted its tasks last. */
  leaderSessionId: string;
}

interface Execution {
  jobId: string;
  vertexId: string;
  subtaskIndex: number;
  attempt: number;
  allocationId: string;
  jobMaster: ActorRef<JobMasterMessage>;
  state: 'deploying' | 'running';
  /** The task's fence: the session that deployed or adopted it; older sessions cannot command it. */
  leaderSessionId: string;
  /** Its leader is gone and no new one adopted it yet: nothing of it goes to the old JobMaster. */
  orphaned: boolean;
}

/** A task waiting for its job's code (a child actor per task, see `fetchCode`). */
interface Deployment {
  tdd: TaskDeploymentDescriptor;
  managedMemoryBytes: number;
}

/** Children fetching a task's code are named by this prefix and the execution id. */
const FETCH_PREFIX = 'fetch-';

/**
 * The action of the transition that refuses a command of a stale or foreign leader session.
 * It is a taken transition like any other: the simulator's fencing audit (lib/sim/invariants.ts)
 * tells refusals from acceptances by it.
 */
export const REFUSE_SESSION = 'refuseSession';

/** Taken first by every session command: one not of the current leader's session is refused. */
const refusal = { guard: 'notFromCurrentLeader', actions: REFUSE_SESSION } as const;
/**
 * Outside `registered` (disconnected, registering, waiting to retry): a command of a session
 * older than the newest accepted is refused (STALE_LEADER) as it is while registered, whatever
 * the TaskExecutor is doing meanwhile. Others are not accepted there (UNHANDLED_IN_STATE names
 * the state), except a newer session's, kept while registering.
 */
const unregisteredRefusal = { guard: 'fromStaleSession', actions: REFUSE_SESSION } as const;

interface Context extends TaskExecutorInput {
  masterNode: string | null;
  resourceManager: ActorRef<ResourceManagerMessage> | null;
  /** The session registered with now (null while not registered). */
  leaderSessionId: string | null;
  /** The newest session ever accepted: older ones are stale, registered or not. */
  fence: LeaderFence;
  /** From the registration: silence from the ResourceManager longer than this means it dropped us. */
  heartbeatSilenceMs: number;
  slotUse: Map<number, SlotUse>;
  executions: Map<string, Execution>;
  unwatch: (() => void) | null;
  /**
   * Commands of a newer session that arrived while registering with it: the registration's
   * answer and the first commands after it can come in one read (the answer's promise settles
   * after them). Replayed once registered with their session, dropped otherwise. Bounded.
   */
  early: TaskExecutorMessage[];
}

/** Commands kept while registering (at most this many; more are dropped and logged). */
const MAX_EARLY_COMMANDS = 256;

/** The commands of a leader session, all fenced. */
const SESSION_COMMANDS = [
  'te.heartbeat',
  'te.slots.request',
  'te.slots.free',
  'te.task.submit',
  'te.task.cancel',
  'te.tasks.adopt',
  'te.checkpoint.trigger',
  'te.checkpoint.notify',
  'te.shutdown',
] as const satisfies ReadonlyArray<TaskExecutorMessage['type']>;

/** The session commands outside `registered`: stale ones refused. */
const REFUSED_UNREGISTERED = Object.fromEntries(SESSION_COMMANDS.map((type) => [type, unregisteredRefusal]));
/** While registering, besides: a newer session's commands are kept for when it answers. */
const KEPT_WHILE_REGISTERING = Object.fromEntries(SESSION_COMMANDS.map((type) => [type, [unregisteredRefusal, { guard: 'fromNewerSession', actions: 'keepEarly' }]]));

export const taskExecutorMachine = setup({
  types: { context: {} as Context, events: {} as Event, input: {} as TaskExecutorInput },
  delays: {
    retry: ({ context }) => context.registrationRetryMs,
    resourceManagerSilence: ({ context }) => context.heartbeatSilenceMs,
    adoptionTimeout: ({ context }) => context.adoptionTimeoutMs,
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
          allocations: allocationReports(context),
          executions: executionReports(context),
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
    // A command acts only if it is of the session registered with: one older than the fence is
    // stale, and a newer one is refused too until this TaskExecutor registers with it. Pure: the
    // refusal is the transition this guard selects (REFUSE_SESSION), taken before the accepting one.
    notFromCurrentLeader: ({ context, event }) =>
      // acceptAnySession: the simulator's mutant that proves its fencing invariant can fail (lib/sim/mutants.ts).
      context.testHooks?.acceptAnySession !== true &&
      (context.fence.isStale((event as Fenced).leaderSessionId) || !isCurrentSession((event as Fenced).leaderSessionId, context.leaderSessionId)),
    newerSession: ({ context, event }) => {
      const output = (event as { output?: RegistrationSuccess }).output;
      return output !== undefined && !context.fence.isStale(output.leaderSessionId);
    },
    fromStaleSession: ({ context, event }) => context.fence.isStale((event as Fenced).leaderSessionId),
    fromNewerSession: ({ context, event }) => {
      const session = (event as Fenced).leaderSessionId;
      return session !== undefined && (context.fence.session === null || compareSessions(session, context.fence.session) > 0);
    },
    hasOrphans: ({ context }) => [...context.executions.values()].some((e) => e.orphaned),
    isResourceManager: ({ context, event }) =>
      event.type === 'actor.terminated' && context.resourceManager !== null && event.ref.equals(context.resourceManager),
    hasLeader: ({ event }) => event.type === 'te.leader.changed' && event.masterNode !== null,
  },
  actions: {
    /** Logged, and an ask fails with STALE_LEADER naming the session it would need. */
    [REFUSE_SESSION]: ({ context, event }) => {
      const message = event as Fenced;
      refuseStale(context.env.log, message, context.fence.isStale(message.leaderSessionId) ? context.fence.session : context.leaderSessionId);
    },
    setLeader: assign({ masterNode: ({ event }) => (event.type === 'te.leader.changed' ? event.masterNode : null) }),
    dropLeaderSession: ({ context }) => {
      // The tasks keep running: a new leader may adopt them (the `adoption` region bounds the wait).
      const jobs = new Set<string>();
      for (const execution of context.executions.values()) {
        execution.orphaned = true;
        jobs.add(execution.jobId);
      }
      for (const jobId of jobs) context.runtime.abortPendingCheckpoints(jobId);
      // A slot without a task has nothing to keep: the new leader allocates it afresh.
      const used = new Set([...context.executions.values()].map((e) => e.allocationId));
      for (const [index, use] of context.slotUse) if (!used.has(use.allocationId)) context.slotUse.delete(index);
      if (context.executions.size > 0) {
        context.env.log.warn(
          { tasks: context.executions.size, jobs: [...jobs], adoptionTimeoutMs: context.adoptionTimeoutMs },
          'leader session lost: tasks keep running until a new leader adopts them',
        );
      }
      context.unwatch?.();
      context.unwatch = null;
      context.resourceManager = null;
      context.leaderSessionId = null;
    },
    keepEarly: ({ context, event }) => {
      if (context.early.length >= MAX_EARLY_COMMANDS) {
        context.env.log.warn({ type: event.type }, 'too many commands of a session not registered with yet; dropped');
        return;
      }
      context.early.push(event as TaskExecutorMessage);
    },
    /** Registered: the commands of this session that came early act now, in their order. */
    replayEarly: enqueueActions(({ context, enqueue }) => {
      const early = context.early.splice(0);
      for (const command of early) {
        if ((command as Fenced).leaderSessionId === context.leaderSessionId) enqueue.raise(command);
      }
    }),
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
      context.slotUse.set(event.slotIndex, {
        allocationId: event.allocationId,
        jobId: event.jobId,
        group: event.group,
        jobMaster: event.jobMaster,
        leaderSessionId: event.leaderSessionId,
      });
      tellSafely(context, event.jobMaster, {
        type: 'jm.slots.offer',
        leaderSessionId: event.leaderSessionId,
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
        // Its JobMaster (known through another slot of the job here) hears it, or it would wait for
        // this subtask forever: an offer of a slot freed since (the request and the free crossed a
        // partition) was taken for a new attempt. Found by the simulator (seed 26, 20 faults).
        const jobMaster = [...context.slotUse.values()].find((use) => use.jobId === tdd.jobId)?.jobMaster;
        if (jobMaster) {
          tellSafely(context, jobMaster, {
            type: 'jm.task.state',
            executionId: tdd.executionId,
            state: 'failed',
            error: { code: TaskExecutorErrorCode.SlotNotAllocated, message: `slot ${event.allocationId} of TaskExecutor ${context.taskExecutorId} is not allocated to job ${tdd.jobId}` },
          });
        }
        return;
      }
      if (context.executions.has(tdd.executionId)) {
        context.env.log.warn({ executionId: tdd.executionId }, 'task submitted twice; the second is ignored');
        return;
      }
      const [slotIndex, use] = slot;
      context.executions.set(tdd.executionId, {
        jobId: tdd.jobId,
        vertexId: tdd.vertexId,
        subtaskIndex: tdd.subtaskIndex,
        attempt: tdd.attempt,
        allocationId: event.allocationId,
        jobMaster: use.jobMaster,
        state: 'deploying',
        leaderSessionId: event.leaderSessionId,
        orphaned: false,
      });
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
      if (event.type !== 'te.checkpoint.trigger') return;
      const execution = context.executions.get(event.executionId);
      if (!execution || !taskAdmits(context, execution, event)) return;
      context.runtime.triggerCheckpoint(event.executionId, event.checkpointId, event.options);
    },
    notifyCheckpoint: ({ context, event }) => {
      if (event.type !== 'te.checkpoint.notify') return;
      // Every task of the attempt must take it: one adopted by a newer session refuses an older one's commit.
      for (const execution of context.executions.values()) {
        if (execution.jobId === event.jobId && execution.attempt === event.attempt && !taskAdmits(context, execution, event)) return;
      }
      if (event.outcome === 'complete') context.runtime.notifyCheckpointComplete(event.jobId, event.attempt, event.checkpointId);
      else context.runtime.notifyCheckpointAborted(event.jobId, event.attempt, event.checkpointId);
    },
    cancelTask: enqueueActions(({ context, event, self, enqueue }) => {
      if (event.type !== 'te.task.cancel') return;
      const execution = context.executions.get(event.executionId);
      if (!execution || !taskAdmits(context, execution, event)) return;
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
    adoptTasks: ({ context, event }) => {
      if (event.type !== 'te.tasks.adopt') return;
      const adopted: string[] = [];
      for (const executionId of event.executionIds) {
        const execution = context.executions.get(executionId);
        if (!execution || execution.jobId !== event.jobId || execution.attempt !== event.attempt) {
          // It ended since it was reported: the JobMaster learns so at once instead of waiting for it.
          const error = new RuntimeError(TaskExecutorErrorCode.TaskNotFound, `task ${executionId} is no longer running on TaskExecutor ${context.taskExecutorId}`, { details: { executionId } });
          tellSafely(context, event.jobMaster, { type: 'jm.task.state', executionId, state: 'failed', error: toWireError(error) });
          continue;
        }
        if (!taskAdmits(context, execution, event)) continue;
        execution.jobMaster = event.jobMaster;
        execution.leaderSessionId = event.leaderSessionId;
        execution.orphaned = false;
        for (const use of context.slotUse.values()) {
          if (use.allocationId !== execution.allocationId) continue;
          use.jobMaster = event.jobMaster;
          use.leaderSessionId = event.leaderSessionId;
        }
        adopted.push(executionId);
      }
      context.env.log.info({ jobId: event.jobId, attempt: event.attempt, tasks: adopted.length, leaderSessionId: event.leaderSessionId }, 'tasks adopted by the new leader');
    },
    cancelOrphans: ({ context }) => {
      const orphans = [...context.executions.entries()].filter(([, e]) => e.orphaned);
      context.env.log.warn(
        { tasks: orphans.map(([id]) => id), adoptionTimeoutMs: context.adoptionTimeoutMs },
        'no leader adopted these tasks in time: cancelling them',
      );
      const allocations = new Set(orphans.map(([, e]) => e.allocationId));
      for (const [executionId] of orphans) context.runtime.cancel(executionId);
      for (const [index, use] of context.slotUse) if (allocations.has(use.allocationId)) context.slotUse.delete(index);
    },
    forwardTaskEvent: ({ context, event }) => {
      if (event.type !== 'te.task.event') return;
      const e = event.event;
      const execution = context.executions.get(e.executionId);
      if (!execution) return;
      if (e.type === 'task.state' && e.state === 'running') execution.state = 'running';
      if (e.type === 'task.state' && e.state !== 'running') context.executions.delete(e.executionId);
      // An orphan's leader is gone (or a zombie): its acks and states wait for no one; the new leader learns from the report.
      if (execution.orphaned) return;
      if (e.type === 'task.state') {
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
    fence: new LeaderFence(),
    heartbeatSilenceMs: Number.MAX_SAFE_INTEGER,
    slotUse: new Map(),
    executions: new Map(),
    unwatch: null,
    early: [],
  }),
  type: 'parallel',
  on: {
    'te.task.event': { actions: 'forwardTaskEvent' },
  },
  states: {
    session: {
      initial: 'disconnected',
      states: {
        disconnected: {
          entry: assign({ early: [] }),
          on: {
            ...REFUSED_UNREGISTERED,
            // Still no leader (leader retrieval's first answer when none leads) is taken, not reported.
            'te.leader.changed': [{ guard: 'hasLeader', target: 'registering', actions: 'setLeader' }, { actions: 'setLeader' }],
          },
        },
        registering: {
          id: 'registering',
          invoke: {
            src: 'register',
            input: ({ context }) => ({ context }),
            onDone: [
              {
                guard: 'newerSession',
                target: 'registered',
                actions: [assign(({ context, event }) => {
                  const rm = context.env.system.ref<ResourceManagerMessage>(context.masterNode!, 'resourcemanager');
                  context.fence.accept(event.output.leaderSessionId);
                  freeJobs(context, event.output.freeJobs ?? []);
                  context.env.log.info({ resourceManager: rm.path, leaderSessionId: event.output.leaderSessionId }, 'registered');
                  return {
                    resourceManager: rm,
                    leaderSessionId: event.output.leaderSessionId,
                    heartbeatSilenceMs: event.output.heartbeatSilenceMs,
                    unwatch: context.env.system.watch(rm, context.env.self),
                  };
                }), 'replayEarly'],
              },
              {
                // A ResourceManager of an older term than one already accepted: a zombie leader.
                target: 'waitingToRetry',
                actions: ({ context, event }) =>
                  context.env.log.warn({ received: event.output.leaderSessionId, current: context.fence.session }, 'registration answered by a stale leader session; will retry'),
              },
            ],
            onError: {
              target: 'waitingToRetry',
              actions: ({ context, event }) =>
                context.env.log.warn({ err: event.error, master: context.masterNode }, 'registration failed; will retry'),
            },
          },
          on: {
            ...KEPT_WHILE_REGISTERING,
            'te.leader.changed': [
              { guard: 'hasLeader', target: 'registering', reenter: true, actions: 'setLeader' },
              { target: 'disconnected', actions: 'setLeader' },
            ],
          },
        },
        waitingToRetry: {
          // What a session sent before an answer that never came is not replayed later.
          entry: assign({ early: [] }),
          after: { retry: 'registering' },
          on: {
            ...REFUSED_UNREGISTERED,
            'te.leader.changed': [
              { guard: 'hasLeader', target: 'registering', actions: 'setLeader' },
              { target: 'disconnected', actions: 'setLeader' },
            ],
          },
        },
        registered: {
          initial: 'heartbeating',
          // Tasks still waiting for their code are of this session: dropped, never deployed (they
          // are not reported to the next leader, which restarts their job). Running tasks stay.
          exit: 'stopFetches',
          states: {
            heartbeating: {
              on: {
                // Re-enters `heartbeating` only (its silence timer starts again), never `registered`,
                // whose exit ends the session's fetches.
                'te.heartbeat': [refusal, { target: 'heartbeating', reenter: true, actions: 'heartbeat' }],
              },
              after: {
                resourceManagerSilence: {
                  target: '#registering',
                  actions: [
                    ({ context }) => context.env.log.warn({ silentForMs: context.heartbeatSilenceMs }, 'no heartbeat from the ResourceManager; registering again'),
                    'dropLeaderSession',
                  ],
                },
              },
            },
          },
          on: {
            'te.slots.request': [refusal, { actions: 'offerSlot' }],
            'te.slots.free': [refusal, { actions: 'freeSlots' }],
            'te.task.submit': [refusal, { actions: 'submitTask' }],
            'te.task.cancel': [refusal, { actions: 'cancelTask' }],
            'te.tasks.adopt': [refusal, { actions: 'adoptTasks' }],
            'te.checkpoint.trigger': [refusal, { actions: 'triggerCheckpoint' }],
            'te.checkpoint.notify': [refusal, { actions: 'notifyCheckpoint' }],
            'xstate.done.actor.*': { actions: 'deployFetched' },
            'xstate.error.actor.*': { actions: 'codeNotFetched' },
            'te.shutdown': [
              refusal,
              {
                actions: ({ context }) => {
                  context.env.log.info('the cluster is shutting down');
                  context.onShutdown();
                },
              },
            ],
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
    },
    // Orphaned tasks wait a bounded time for a leader that adopts them.
    adoption: {
      initial: 'idle',
      states: {
        idle: { always: { guard: 'hasOrphans', target: 'waiting' } },
        waiting: {
          always: { guard: ({ context }) => ![...context.executions.values()].some((e) => e.orphaned), target: 'idle' },
          after: { adoptionTimeout: { target: 'idle', actions: 'cancelOrphans' } },
        },
      },
    },
  },
});

/** Task events other than state changes, as JobMaster messages. */
function toJobMaster(e: Exclude<TaskEvent, { type: 'task.state' }>): JobMasterMessage {
  switch (e.type) {
    case 'task.collect':
      return { type: 'jm.task.collect', executionId: e.executionId, records: e.records, epoch: e.epoch };
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

/** The new ResourceManager says nobody adopts these jobs' kept tasks: they are cancelled, their slots freed. */
function freeJobs(context: Context, jobIds: readonly string[]): void {
  for (const jobId of jobIds) {
    context.env.log.info({ jobId }, 'kept tasks of a job nobody adopts: cancelling them');
    context.runtime.cancelJob(jobId);
    for (const [index, use] of context.slotUse) if (use.jobId === jobId) context.slotUse.delete(index);
  }
}

/** Slots held for jobs, as the registration with a (new) leader reports them. */
function allocationReports(context: Context): AllocationReport[] {
  return [...context.slotUse].map(([slotIndex, use]) => ({
    slotIndex,
    allocationId: use.allocationId,
    jobId: use.jobId,
    group: use.group,
    leaderSessionId: use.leaderSessionId,
  }));
}

/** Tasks running here, as the registration with a (new) leader reports them: it may adopt them. */
function executionReports(context: Context): ExecutionReport[] {
  return [...context.executions].map(([executionId, e]) => ({
    executionId,
    jobId: e.jobId,
    vertexId: e.vertexId,
    subtaskIndex: e.subtaskIndex,
    attempt: e.attempt,
    allocationId: e.allocationId,
    state: e.state,
    leaderSessionId: e.leaderSessionId,
  }));
}

/** The task's own fence: a command older than the session that deployed or adopted it is refused. */
function taskAdmits(context: Context, execution: Execution, message: Fenced): boolean {
  if (message.leaderSessionId !== undefined && compareSessions(message.leaderSessionId, execution.leaderSessionId) >= 0) return true;
  refuseStale(context.env.log, message, execution.leaderSessionId);
  return false;
}

function tellSafely<M>(context: Context, ref: ActorRef<M>, message: M): void {
  try {
    ref.tell(message);
  } catch (err) {
    context.env.log.warn({ err, to: ref.path }, 'message not sent');
  }
}
