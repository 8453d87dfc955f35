/**
 * The JobMaster: runs one job. It turns the job graph into an execution graph of subtasks,
 * declares the slots it needs to the ResourceManager, takes the slots TaskExecutors offer,
 * deploys every subtask once it holds them all, tracks each subtask's state, and ends the job:
 * finished when every subtask finished; failed, with the first failure as the reason, when a
 * subtask or a TaskExecutor fails or the slots do not come in time; canceled on request.
 *
 * States: `created` → `waitingForResources` → `running` → `finished`, or through `failing` /
 * `canceling` (the remaining subtasks are cancelled first) to `failed` / `canceled`.
 */
import { assign, setup } from 'xstate';
import { reply, type ActorEnv, type ActorRef } from '../../lib/index.js';
import { toWireError, type WireError } from '../../lib/errors.js';
import type { JobGraph } from '../../lib/dataflow/jobgraph.js';
import { buildDeploymentDescriptors } from '../../lib/task/deployment.js';
import { ExecutionState, isTerminal } from '../../lib/task/descriptor.js';
import type { MasterMessage } from '../master/protocol.js';
import type { ResourceManagerMessage } from '../resourcemanager/protocol.js';
import type { TaskExecutorMessage } from '../taskexecutor/protocol.js';
import { JobMasterError } from './errors.js';
import { ExecutionGraph } from './execution-graph.js';
import type { JobMasterMessage } from './protocol.js';
import type { JobDetails, JobResult, JobState } from './status.js';

export interface JobMasterInput {
  env: ActorEnv;
  jobId: string;
  name: string;
  jobGraph: JobGraph;
  codeHash: string;
  args: Record<string, unknown>;
  parallelism: number;
  submittedAt: number;
  leaderSessionId: string;
  master: ActorRef<MasterMessage>;
  resourceManager: ActorRef<ResourceManagerMessage>;
  slotRequestTimeoutMs: number;
  cancelTimeoutMs: number;
  /** Upper bound on records kept from collect() sinks. */
  maxCollectedRecords: number;
}

interface Context extends JobMasterInput {
  graph: ExecutionGraph<ActorRef<TaskExecutorMessage>>;
  collected: unknown[];
  failure: WireError | null;
  endedAt: number | null;
}

export const jobMasterMachine = setup({
  types: { context: {} as Context, events: {} as JobMasterMessage, input: {} as JobMasterInput },
  delays: {
    slotRequestTimeout: ({ context }) => context.slotRequestTimeoutMs,
    cancelTimeout: ({ context }) => context.cancelTimeoutMs,
  },
  guards: {
    hasAllSlots: ({ context }) => context.graph.hasAllSlots(),
    allFinished: ({ context }) => context.graph.allFinished(),
    anyFailed: ({ context }) => context.graph.firstFailure() !== undefined,
    allTerminal: ({ context }) => context.graph.allTerminal(),
  },
  actions: {
    declareSlots: ({ context }) => {
      context.resourceManager.tell({
        type: 'rm.slots.declare',
        leaderSessionId: context.leaderSessionId,
        jobId: context.jobId,
        jobMaster: context.env.self as ActorRef<JobMasterMessage>,
        requirements: context.graph.requirements(),
      });
      context.env.log.info({ jobId: context.jobId, slots: context.graph.requiredSlots() }, 'waiting for slots');
    },
    takeOffer: ({ context, event }) => {
      if (event.type !== 'jm.slots.offer') return;
      for (const slot of event.slots) {
        context.graph.offer({ ...slot, taskExecutorId: event.taskExecutorId, taskExecutor: event.taskExecutor, dataAddress: event.dataAddress });
      }
    },
    deploy: ({ context }) => {
      const { graph } = context;
      graph.schedule();
      const descriptors = buildDeploymentDescriptors(context.jobGraph, {
        jobId: context.jobId,
        jobName: context.name,
        attempt: graph.attempt,
        jobModulePath: '', // each TaskExecutor fills in its cached copy
        jobArgs: context.args,
        defaultParallelism: context.parallelism,
        placement: (vertexId, index) => graph.location(vertexId, index),
      });
      for (const tdd of descriptors) {
        const ev = graph.get(tdd.executionId)!;
        graph.transition(ev, ExecutionState.Deploying);
        try {
          ev.slot!.taskExecutor.tell({
            type: 'te.task.submit',
            leaderSessionId: context.leaderSessionId,
            allocationId: ev.slot!.allocationId,
            codeHash: context.codeHash,
            tdd,
          });
        } catch (err) {
          graph.transition(ev, ExecutionState.Failed, toWireError(err));
        }
      }
      context.env.log.info({ jobId: context.jobId, subtasks: descriptors.length, slots: graph.heldSlots().length }, 'job deployed');
    },
    taskState: ({ context, event }) => {
      if (event.type !== 'jm.task.state') return;
      const accepted = context.graph.update(event.executionId, event.state, event.error, event.metrics);
      if (accepted && event.state === 'failed') {
        context.env.log.warn({ jobId: context.jobId, executionId: event.executionId, error: event.error }, 'subtask failed');
      }
    },
    taskMetrics: ({ context, event }) => {
      if (event.type !== 'jm.task.metrics') return;
      const ev = context.graph.get(event.executionId);
      if (ev) ev.metrics = event.metrics;
    },
    collect: ({ context, event }) => {
      if (event.type !== 'jm.task.collect') return;
      const room = context.maxCollectedRecords - context.collected.length;
      if (room <= 0) return;
      for (const record of room >= event.records.length ? event.records : event.records.slice(0, room)) context.collected.push(record);
    },
    taskExecutorLost: ({ context, event }) => {
      if (event.type !== 'jm.taskexecutor.lost' || event.leaderSessionId !== context.leaderSessionId) return;
      const error = new JobMasterError('TASK_EXECUTOR_LOST', `TaskExecutor ${event.taskExecutorId} was lost: ${event.reason}`, {
        taskExecutorId: event.taskExecutorId,
      });
      for (const ev of context.graph.onTaskExecutor(event.taskExecutorId)) {
        if (!isTerminal(ev.state)) context.graph.transition(ev, ExecutionState.Failed, toWireError(error));
      }
      context.failure ??= toWireError(error);
    },
    recordFirstFailure: assign({
      failure: ({ context }) => context.failure ?? context.graph.firstFailure()?.error ?? null,
    }),
    cancelSubtasks: ({ context }) => {
      for (const ev of context.graph.subtasks) {
        if (isTerminal(ev.state)) continue;
        if (ev.state === ExecutionState.Created || ev.state === ExecutionState.Scheduled) {
          context.graph.transition(ev, ExecutionState.Canceled);
          continue;
        }
        context.graph.transition(ev, ExecutionState.Canceling);
        try {
          ev.slot!.taskExecutor.tell({ type: 'te.task.cancel', leaderSessionId: context.leaderSessionId, executionId: ev.executionId });
        } catch {
          // Unreachable: the TaskExecutor's loss ends it.
          context.graph.transition(ev, ExecutionState.Canceled);
        }
      }
    },
    forceTerminal: ({ context }) => {
      const error = toWireError(new JobMasterError('CANCEL_TIMEOUT', `subtask did not confirm cancellation within ${context.cancelTimeoutMs} ms`));
      for (const ev of context.graph.subtasks) if (!isTerminal(ev.state)) context.graph.transition(ev, ExecutionState.Failed, error);
    },
    slotTimeout: assign({
      failure: ({ context }) =>
        toWireError(
          new JobMasterError(
            'SLOT_REQUEST_TIMEOUT',
            `could not acquire the ${context.graph.requiredSlots()} slots the job needs (${context.graph
              .requirements()
              .map((r) => `group '${r.group}': ${r.count}`)
              .join(', ')}) within ${context.slotRequestTimeoutMs} ms`,
            { requiredSlots: context.graph.requiredSlots() },
          ),
        ),
    }),
    status: ({ context, event, self }) => {
      if (event.type !== 'jm.status') return;
      reply(event.replyTo, detailsOf(context, stateOf(self.getSnapshot().value)));
    },
    end: ({ context }, { state }: { state: JobResult['state'] }) => {
      context.endedAt = Date.now();
      const result: JobResult = {
        jobId: context.jobId,
        name: context.name,
        state,
        submittedAt: context.submittedAt,
        endedAt: context.endedAt,
        collected: context.collected,
        ...(context.failure ? { failure: context.failure } : {}),
        details: detailsOf(context, state),
      };
      context.env.log.info({ jobId: context.jobId, state, failure: context.failure?.message }, 'job ended');
      context.resourceManager.tell({ type: 'rm.slots.release', leaderSessionId: context.leaderSessionId, jobId: context.jobId });
      context.master.tell({ type: 'master.job.ended', leaderSessionId: context.leaderSessionId, result });
    },
  },
}).createMachine({
  id: 'jobmaster',
  context: ({ input }) => ({ ...input, graph: new ExecutionGraph(input.jobId, input.jobGraph, 0), collected: [], failure: null, endedAt: null }),
  initial: 'created',
  on: {
    'jm.status': { actions: 'status' },
    'jm.task.collect': { actions: 'collect' },
    'jm.task.metrics': { actions: 'taskMetrics' },
  },
  states: {
    created: { always: { target: 'waitingForResources', actions: 'declareSlots' } },
    waitingForResources: {
      on: {
        'jm.slots.offer': { actions: 'takeOffer' },
        'jm.cancel': { target: 'canceled', actions: ({ event }) => reply(event.replyTo, { state: 'canceled' }) },
        'jm.taskexecutor.lost': { target: 'failing', actions: 'taskExecutorLost' },
      },
      always: { guard: 'hasAllSlots', target: 'running', actions: 'deploy' },
      after: { slotRequestTimeout: { target: 'failed', actions: 'slotTimeout' } },
    },
    running: {
      on: {
        'jm.task.state': { actions: 'taskState' },
        'jm.taskexecutor.lost': { actions: 'taskExecutorLost' },
        'jm.cancel': { target: 'canceling', actions: ({ event }) => reply(event.replyTo, { state: 'canceling' }) },
      },
      always: [
        { guard: 'anyFailed', target: 'failing' },
        { guard: 'allFinished', target: 'finished' },
      ],
    },
    failing: {
      entry: ['recordFirstFailure', 'cancelSubtasks'],
      on: {
        'jm.task.state': { actions: 'taskState' },
        'jm.taskexecutor.lost': { actions: 'taskExecutorLost' },
        'jm.cancel': { actions: ({ event }) => reply(event.replyTo, { state: 'failing' }) },
      },
      always: { guard: 'allTerminal', target: 'failed' },
      after: { cancelTimeout: { target: 'failed', actions: 'forceTerminal' } },
    },
    canceling: {
      entry: 'cancelSubtasks',
      on: {
        'jm.task.state': { actions: 'taskState' },
        'jm.taskexecutor.lost': { actions: 'taskExecutorLost' },
        'jm.cancel': { actions: ({ event }) => reply(event.replyTo, { state: 'canceling' }) },
      },
      always: { guard: 'allTerminal', target: 'canceled' },
      after: { cancelTimeout: { target: 'canceled', actions: 'forceTerminal' } },
    },
    finished: { type: 'final', entry: { type: 'end', params: { state: 'finished' } } },
    failed: { type: 'final', entry: { type: 'end', params: { state: 'failed' } } },
    canceled: { type: 'final', entry: { type: 'end', params: { state: 'canceled' } } },
  },
});

function stateOf(value: unknown): JobState {
  return String(value) as JobState;
}

function detailsOf(context: Context, state: JobState): JobDetails {
  return {
    jobId: context.jobId,
    name: context.name,
    state,
    submittedAt: context.submittedAt,
    endedAt: context.endedAt,
    vertices: context.jobGraph.vertices.map((v) => ({
      id: v.id,
      name: v.name,
      parallelism: v.parallelism,
      slotSharingGroup: v.slotSharingGroup,
      operatorIds: v.operatorIds,
      inputs: v.inputs.map((i) => ({ source: i.source, partitioner: i.partitioner })),
    })),
    subtasks: context.graph.status(),
    slots: context.graph.heldSlots().map((s) => ({ allocationId: s.allocationId, taskExecutorId: s.taskExecutorId, slotIndex: s.slotIndex, group: s.group })),
    ...(context.failure ? { failure: context.failure } : {}),
  };
}
