/**
 * The JobMaster: runs one job. It turns the job graph into an execution graph of subtasks,
 * declares the slots it needs to the ResourceManager, takes the slots TaskExecutors offer,
 * deploys every subtask once it holds them all, tracks each subtask's state, coordinates
 * checkpoints (see checkpointing.ts), and restarts the job from its latest checkpoint after a
 * failure, as its restart strategy allows.
 *
 * States: `created` (finding the checkpoint or savepoint to start from) → `waitingForResources`
 * → `recordingAttempt` (the attempt and restart count go to etcd, fenced, before anything is
 * deployed: a new leader continues after them, so attempts never go backwards) → `running`
 * → `finished`; on a failure `running` → `restarting` (cancel what runs, free the slots, wait
 * the strategy's delay, and learn the outcome of any checkpoint whose metadata was being stored: it
may have landed in etcd, and the next attempt must start from it) → `created` with the next attempt, or, when no restart is left, `failing`
 * → `failed`; on request `canceling` → `canceled`. A new leader's JobMaster for
 * the same job first tries to adopt what still runs (below); this one ends in `suspended` (no
 * result, no writes) when its Master loses leadership.
 *
 * `reconciling` (a job recovered by a new leader, whose last attempt was recorded): the
 * TaskExecutors kept that attempt's tasks running through the leader change and report them
 * when they register (the ResourceManager forwards the reports, `jm.executions.reported`). Once
 * every subtask of the attempt is reported running, and the latest completed checkpoint is
 * read, the JobMaster ADOPTS the execution graph: no deployment, the attempt number unchanged;
 * it tells each TaskExecutor `te.tasks.adopt` (its session becomes the tasks' fence), tells the
 * sinks again that the latest checkpoint completed (a commit the old leader may not have sent;
 * idempotent), and goes to `running`, whose checkpoints take the next ids of the etcd counter.
 * A subtask missing after `reconcileTimeoutMs` (its TaskExecutor died meanwhile, or the task
 * failed), or a restore point that cannot be read, ends the reconciliation: the kept slots are
 * released (their TaskExecutors cancel the tasks) and the job restarts from its latest
 * checkpoint in `created` with the next attempt, as a recovered job always did.
 */
import { assign, enqueueActions, fromPromise, raise, setup } from 'xstate';
import { reply, replyError, type ActorRef } from '../../lib/index.js';
import { RuntimeError, toWireError } from '../../lib/errors.js';
import { HaErrorCode } from '../../lib/ha/errors.js';
import { buildDeploymentDescriptors } from '../../lib/task/deployment.js';
import { ExecutionState, isTerminal } from '../../lib/task/descriptor.js';
import {
  abortAll,
  abortCheckpoint,
  checkpointStoreFailed,
  acknowledgeCheckpoint,
  beginCheckpoint,
  checkpointStored,
  checkpointTimedOut,
  drawCheckpointId,
  jobCheckpointDir,
  periodicCheckpoint,
  requestSavepoint,
  savepointWaited,
  sourceExhausted,
  spareIdDrawn,
  subtaskFinished,
  triggerFailed,
  triggerNext,
} from './checkpointing.js';
import { SAVEPOINT_MAX_WAIT_MS } from './checkpoint-coordinator.js';
import { checkpointStores } from './checkpoint-stores.js';
import { checkpointFiles } from './checkpoint-files.js';
import { savepointFailures } from './savepoint-failures.js';
import { detailsOf, initialContext, mayAdopt, tellSafely, type CheckpointTrigger, type Context, type JobMasterInput } from './context.js';
import { renotifyCompleted } from './checkpointing.js';
import type { CompletedCheckpoint } from './checkpoint-coordinator.js';
import { admitSession } from '../fencing.js';
import { JobMasterError, SavepointErrorCode } from './errors.js';
import { ExecutionGraph } from './execution-graph.js';
import { recordFailure } from './exceptions.js';
import type { JobMasterMessage, SavepointRequest } from './protocol.js';
import { loadRestorePoint, restoreFor, type RestorePoint } from './restore.js';
import type { JobResult, JobState } from './status.js';
import { dropHeldCollected, holdCollected, releaseCollected } from './collected.js';
import { sleep } from '../../lib/util/clock.js';
import { joinLocation } from '../../lib/storage/index.js';

/** Between reads of the restore point while etcd cannot be reached. */
const RESTORE_POINT_RETRY_MS = 500;

export type { JobMasterInput };

/**
 * How long a restart waits for the outcome of a checkpoint store in flight. Past the lease TTL
 * an unreachable etcd has already cost the leadership; this bound only keeps a hung store from
 * holding the job forever.
 */
const CHECKPOINT_STORE_SETTLE_TIMEOUT_MS = 30_000;

export const jobMasterMachine = setup({
  types: { context: {} as Context, events: {} as JobMasterMessage, input: {} as JobMasterInput },
  actors: {
    checkpointStores,
    checkpointFiles,
    savepointFailures,
    // Invoked by `running`: leaving it cancels them, and their outcome is dropped.
    drawCheckpointId: fromPromise<{ checkpointId: number; savepoint: SavepointRequest | null }, { context: Context; trigger: CheckpointTrigger }>(({ input: { context, trigger }, signal }) =>
      drawCheckpointId(context, trigger, signal),
    ),
    drawSpareId: fromPromise<number, { context: Context }>(({ input: { context } }) => context.stores!.checkpointIds.getAndIncrement(context.job.jobId)),
    // etcd out of reach is transient: the read is retried (a lost leadership suspends this
    // JobMaster). It used to fail the job for good (found by the simulator: seed 1140, 10 faults).
    loadRestorePoint: fromPromise<RestorePoint, { context: Context }>(async ({ input: { context }, signal }) => {
      for (;;) {
        try {
          return await loadRestorePoint({
            jobId: context.job.jobId,
            store: context.stores && context.coordinator ? context.stores.checkpoints(context.coordinator.config.retained) : null,
            fromSavepoint: context.job.fromSavepoint,
            fromLatest: context.job.recovered || context.graph.attempt > context.firstAttempt,
          });
        } catch (err) {
          if ((err as { code?: unknown }).code !== HaErrorCode.Unavailable || signal.aborted) throw err;
          context.env.log.warn({ err: toWireError(err) }, 'could not read the restore point; retrying');
          await sleep(context.env.clock, RESTORE_POINT_RETRY_MS);
          if (signal.aborted) throw err;
        }
      }
    }),
    recordAttempt: fromPromise<void, { context: Context }>(async ({ input: { context } }) => {
      const execution = { attempt: context.graph.attempt, restarts: context.backoff.restartCount };
      await context.stores?.jobGraphs.putExecution(context.job.jobId, execution);
    }),
  },
  delays: {
    slotRequestTimeout: ({ context }) => context.slotRequestTimeoutMs,
    cancelTimeout: ({ context }) => context.cancelTimeoutMs,
    checkpointInterval: ({ context }) => context.coordinator?.config.intervalMs ?? 1000,
    restartDelay: ({ context }) => context.restartDelayMs,
    recordAttemptRetry: 500,
    reconcileTimeout: ({ context }) => context.reconcileTimeoutMs,
    checkpointStoreSettleTimeout: CHECKPOINT_STORE_SETTLE_TIMEOUT_MS,
  },
  guards: {
    hasAllSlots: ({ context }) => context.graph.hasAllSlots(),
    mayAdopt: ({ context }) => mayAdopt(context),
    allReported: ({ context }) => context.reconcileLatest !== undefined && missingSubtasks(context).length === 0,
    allFinished: ({ context }) => context.graph.allFinished(),
    anyFailed: ({ context }) => context.graph.firstFailure() !== undefined || context.failure !== null,
    allTerminal: ({ context }) => context.graph.allTerminal(),
    checkpointing: ({ context }) => context.coordinator !== null,
    stopRequested: ({ context }) => context.stopRequested,
    mayRestart: ({ context }) => context.restartDelayMs >= 0,
    noCheckpointStoreInFlight: ({ context }) => context.abortedWhileStoring.size === 0,
    triggerWanted: ({ context }) => context.trigger !== null,
    spareWanted: ({ context }) => context.coordinator?.fetchingSpareId === true,
  },
  actions: {
    declareSlots: ({ context }) => {
      context.resourceManager.tell({
        type: 'rm.slots.declare',
        leaderSessionId: context.leaderSessionId,
        jobId: context.job.jobId,
        jobMaster: context.env.self as ActorRef<JobMasterMessage>,
        requirements: context.graph.requirements(),
      });
      context.env.log.info({ attempt: context.graph.attempt, slots: context.graph.requiredSlots() }, 'waiting for slots');
    },
    releaseSlots: ({ context }) => {
      context.resourceManager.tell({ type: 'rm.slots.release', leaderSessionId: context.leaderSessionId, jobId: context.job.jobId });
    },
    takeOffer: ({ context, event }) => {
      if (event.type !== 'jm.slots.offer') return;
      // A slot of an earlier term (the same Master leads again, its JobMaster has the same path):
      // that ResourceManager is gone, the TaskExecutor has dropped the slot, a task sent to it
      // would wait forever. Found by the simulator (3 Masters, 4 TaskExecutors, 20 faults: seed 30212).
      if (event.leaderSessionId !== context.leaderSessionId) {
        context.env.log.warn({ offeredBy: event.taskExecutorId, offerSession: event.leaderSessionId }, 'ignored a slot offer of another leader session');
        return;
      }
      for (const slot of event.slots) {
        context.graph.offer({ ...slot, taskExecutorId: event.taskExecutorId, taskExecutor: event.taskExecutor, dataAddress: event.dataAddress });
      }
    },
    deploy: ({ context }) => {
      const { graph, job } = context;
      graph.schedule();
      const checkpointing = context.coordinator !== null;
      const descriptors = buildDeploymentDescriptors(job.jobGraph, {
        jobId: job.jobId,
        jobName: job.name,
        attempt: graph.attempt,
        jobModulePath: '', // each TaskExecutor fills in its cached copy
        jobArgs: job.args,
        defaultParallelism: job.parallelism,
        placement: (vertexId, index) => graph.location(vertexId, index),
        checkpointDir: checkpointing ? jobCheckpointDir(context) : null,
        incrementalCheckpoints: context.coordinator?.config.incremental !== false,
        restoreFor: (vertexId) => restoreFor(context.restorePoint, vertexId),
      });
      for (const tdd of descriptors) {
        const ev = graph.get(tdd.executionId)!;
        graph.transition(ev, ExecutionState.Deploying);
        const sent = tellSafely(context, ev.slot!.taskExecutor, {
          type: 'te.task.submit',
          leaderSessionId: context.leaderSessionId,
          allocationId: ev.slot!.allocationId,
          codeHash: job.codeHash,
          tdd,
        });
        if (!sent) graph.transition(ev, ExecutionState.Failed, { code: 'DEPLOY_FAILED', message: `TaskExecutor ${ev.slot!.taskExecutorId} is unreachable` });
      }
      context.env.log.info(
        { attempt: graph.attempt, subtasks: descriptors.length, slots: graph.heldSlots().length, restoredFrom: context.restorePoint?.checkpointId ?? null },
        'job deployed',
      );
    },
    taskState: ({ context, event }) => {
      if (event.type !== 'jm.task.state') return;
      const accepted = context.graph.update(event.executionId, event.state, event.error, event.metrics);
      if (accepted && event.state === 'failed') {
        context.env.log.warn({ executionId: event.executionId, error: event.error }, 'subtask failed');
      }
      // It ignores triggers from now on: checkpoints waiting for it complete with its last handle.
      if (accepted && event.state === 'finished') subtaskFinished(context, event.executionId);
      // A source may be exhausted before every subtask reported running: its final checkpoint starts now.
      if (accepted && event.state === 'running') triggerNext(context);
    },
    taskMetrics: ({ context, event }) => {
      if (event.type !== 'jm.task.metrics') return;
      const ev = context.graph.get(event.executionId);
      if (ev) ev.metrics = event.metrics;
    },
    collect: ({ context, event }) => {
      if (event.type !== 'jm.task.collect' || !context.graph.get(event.executionId)) return;
      holdCollected(context, event.epoch, event.records);
    },
    askForReports: ({ context }) => {
      context.resourceManager.tell({
        type: 'rm.job.reconcile',
        leaderSessionId: context.leaderSessionId,
        jobId: context.job.jobId,
        jobMaster: context.env.self as ActorRef<JobMasterMessage>,
      });
      context.env.log.info({ attempt: context.graph.attempt, timeoutMs: context.reconcileTimeoutMs }, 'reconciling: waiting for the reports of the tasks that kept running');
    },
    takeReport: ({ context, event }) => {
      if (event.type !== 'jm.executions.reported' || !admitSession(context.leaderSessionId, event, context.env.log)) return;
      const { type: _, leaderSessionId: __, ...report } = event;
      context.reports.set(event.taskExecutorId, report);
    },
    forgetReports: ({ context, event }) => {
      if (event.type !== 'jm.taskexecutor.lost' || !admitSession(context.leaderSessionId, event, context.env.log)) return;
      context.reports.delete(event.taskExecutorId);
    },
    adopt: ({ context }) => {
      const { graph } = context;
      const byTaskExecutor = new Map<string, string[]>();
      for (const report of context.reports.values()) {
        for (const execution of report.executions) {
          const allocation = report.allocations.find((a) => a.allocationId === execution.allocationId)!;
          const slot = { ...allocation, taskExecutorId: report.taskExecutorId, taskExecutor: report.taskExecutor, dataAddress: report.dataAddress };
          if (!graph.adopt(execution.executionId, slot)) continue;
          byTaskExecutor.set(report.taskExecutorId, [...(byTaskExecutor.get(report.taskExecutorId) ?? []), execution.executionId]);
        }
      }
      for (const [taskExecutorId, executionIds] of byTaskExecutor) {
        tellSafely(context, context.reports.get(taskExecutorId)!.taskExecutor, {
          type: 'te.tasks.adopt',
          leaderSessionId: context.leaderSessionId,
          jobId: context.job.jobId,
          attempt: graph.attempt,
          executionIds,
          jobMaster: context.env.self as ActorRef<JobMasterMessage>,
        });
      }
      context.resourceManager.tell({ type: 'rm.job.adopted', leaderSessionId: context.leaderSessionId, jobId: context.job.jobId });
      const latest = context.reconcileLatest ?? null;
      if (latest && !latest.savepoint) context.coordinator?.restoredFrom(latest.handles);
      if (latest && context.coordinator) renotifyCompleted(context, latest.checkpointId);
      context.reports.clear();
      const reason = `adopted by the new leader, term ${context.leaderSessionId}`;
      context.failovers.push({ at: context.env.clock.now(), leaderSessionId: context.leaderSessionId, attempt: graph.attempt, adopted: true, reason });
      context.env.log.info({ attempt: graph.attempt, subtasks: graph.subtasks.length, latestCheckpoint: latest?.checkpointId ?? null }, 'job adopted: its tasks ran on through the leader change');
    },
    /** Reconciliation ended without adoption: the kept slots go (their tasks are cancelled), the job restarts. */
    abandonReconciliation: assign(({ context }, params: { reason: string }) => {
      const missing = missingSubtasks(context);
      context.resourceManager.tell({ type: 'rm.slots.release', leaderSessionId: context.leaderSessionId, jobId: context.job.jobId });
      const reason = `${params.reason}; restarted from the latest checkpoint`;
      context.failovers.push({ at: context.env.clock.now(), leaderSessionId: context.leaderSessionId, attempt: context.firstAttempt, adopted: false, reason });
      context.env.log.warn({ attempt: context.graph.attempt, missing: missing.slice(0, 10), missingCount: missing.length }, `not adopted: ${reason}`);
      return { graph: new ExecutionGraph(context.job.jobId, context.job.jobGraph, context.firstAttempt), reports: new Map(), reconcileLatest: undefined };
    }),
    /** Tasks of this job reported after the reconciliation: not part of the graph, they are cancelled. */
    cancelUnadopted: ({ context, event }) => {
      if (event.type !== 'jm.executions.reported' || !admitSession(context.leaderSessionId, event, context.env.log)) return;
      for (const execution of event.executions) {
        if (context.graph.get(execution.executionId)?.slot?.taskExecutorId === event.taskExecutorId) continue;
        tellSafely(context, event.taskExecutor, { type: 'te.task.cancel', leaderSessionId: context.leaderSessionId, executionId: execution.executionId });
      }
    },
    taskExecutorLost: ({ context, event }) => {
      if (event.type !== 'jm.taskexecutor.lost' || !admitSession(context.leaderSessionId, event, context.env.log)) return;
      const error = toWireError(
        new JobMasterError('TASK_EXECUTOR_LOST', `TaskExecutor ${event.taskExecutorId} was lost: ${event.reason}`, { taskExecutorId: event.taskExecutorId }),
      );
      let hit = false;
      for (const ev of context.graph.onTaskExecutor(event.taskExecutorId)) {
        if (!isTerminal(ev.state)) hit = context.graph.transition(ev, ExecutionState.Failed, error) || hit;
      }
      // Slots offered but not yet used are gone too: the attempt cannot run as planned. The lost
      // TaskExecutor is the root cause of the broken data connections its peers report first.
      if (hit || context.graph.heldSlots().some((s) => s.taskExecutorId === event.taskExecutorId)) {
        if (context.failure === null || context.failure.code === 'DATA_CONNECTION_LOST') context.failure = error;
      }
    },
    /**
     * While slots are awaited, the ResourceManager reports a lost TaskExecutor to a job only if it
     * had allocated the job a slot there. Not offered yet, that slot never will be, and the
     * ResourceManager no longer counts it as wanted: the attempt starts over (found by the
     * simulator, `npm run sim -- --seed 60 --faults 5`; it used to wait out the slot-request
     * timeout and fail the job).
     */
    allocationLost: ({ context, event }) => {
      if (event.type !== 'jm.taskexecutor.lost' || event.leaderSessionId !== context.leaderSessionId || context.failure !== null) return;
      context.failure = toWireError(
        new JobMasterError('TASK_EXECUTOR_LOST', `TaskExecutor ${event.taskExecutorId} was lost before it offered its slot: ${event.reason}`, { taskExecutorId: event.taskExecutorId }),
      );
    },
    decideRestart: assign(({ context }) => {
      const failure = context.failure ?? context.graph.firstFailure()?.error ?? null;
      const decision = context.backoff.onFailure(context.env.clock.now());
      recordFailure(context.exceptions, context.graph, failure, context.env.clock.now(), decision.restart);
      if (decision.restart) {
        context.env.log.warn({ failure, delayMs: decision.delayMs, restarts: context.backoff.restartCount }, 'job restarting');
        return { failure, restartDelayMs: decision.delayMs };
      }
      const message = failure ? `${failure.message} (no restart: ${decision.reason})` : decision.reason;
      return { failure: failure ? { ...failure, message } : { code: 'JOB_FAILED', message }, restartDelayMs: -1 };
    }),
    nextAttempt: assign(({ context }) => {
      dropHeldCollected(context);
      return {
        graph: new ExecutionGraph(context.job.jobId, context.job.jobGraph, context.graph.attempt + 1),
        failure: null,
        restorePoint: null,
      };
    }),
    cancelSubtasks: ({ context }) => {
      abortAll(context, 'the job is stopping or restarting');
      for (const ev of context.graph.subtasks) {
        if (isTerminal(ev.state)) continue;
        if (ev.state === ExecutionState.Created || ev.state === ExecutionState.Scheduled) {
          context.graph.transition(ev, ExecutionState.Canceled);
          continue;
        }
        context.graph.transition(ev, ExecutionState.Canceling);
        const sent = tellSafely(context, ev.slot!.taskExecutor, { type: 'te.task.cancel', leaderSessionId: context.leaderSessionId, executionId: ev.executionId });
        if (!sent) context.graph.transition(ev, ExecutionState.Canceled);
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
    restoreFailed: assign({ failure: ({ event }) => toWireError((event as unknown as { error: unknown }).error) }),
    periodicCheckpoint: ({ context }) => periodicCheckpoint(context),
    /**
     * Every checkpoint's timeout is a delayed event of this machine, armed when it begins: it
     * fires whatever else happens (the periodic trigger may be minutes apart) and ends the
     * checkpoint if it is still pending; the actor's stop cancels it.
     */
    armCheckpointTimeout: raise(({ event }) => ({ type: 'jm.checkpoint.timeout' as const, checkpointId: (event as unknown as { output: Drawn }).output.checkpointId }), {
      delay: ({ context }) => context.coordinator?.config.timeoutMs ?? 0,
    }),
    /** The trigger's id (and a savepoint's record) arrived while still in `running`: the checkpoint begins. */
    beginDrawn: ({ context, event }) => {
      const trigger = context.trigger!;
      context.trigger = null;
      const { checkpointId, savepoint } = (event as unknown as { output: Drawn }).output;
      beginCheckpoint(context, checkpointId, trigger.attempt, savepoint);
    },
    triggerFailed: ({ context, event }) => triggerFailed(context, (event as unknown as { error: unknown }).error),
    spareDrawn: ({ context, event }) => spareIdDrawn(context, (event as unknown as { output: number }).output),
    spareFailed: ({ context }) => spareIdDrawn(context, null),
    checkpointEvent: ({ context, event }) => {
      switch (event.type) {
        case 'jm.checkpoint.ack':
          return acknowledgeCheckpoint(context, event.executionId, event.checkpointId, event.handle);
        case 'jm.checkpoint.declined':
          return abortCheckpoint(context, event.checkpointId, `declined by ${event.executionId}: ${event.error.message}`);
        case 'jm.checkpoint.stored':
          return checkpointStored(context, event.checkpointId);
        case 'jm.checkpoint.storeFailed':
          return checkpointStoreFailed(context, event.checkpointId, `its metadata could not be stored: ${event.error.message}`);
        case 'jm.checkpoint.timeout':
          return checkpointTimedOut(context, event.checkpointId);
        case 'jm.savepoint.waited':
          return savepointWaited(context, event.ticket);
        case 'jm.source.exhausted':
          return sourceExhausted(context);
      }
    },
    /** A savepoint that has to wait is queued; its wait is bounded by a delayed event of the machine. */
    savepoint: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'jm.savepoint') return;
      const ticket = requestSavepoint(context, { dir: event.dir ?? context.savepointDir, stop: event.stop, requestId: event.requestId, replyTo: event.replyTo });
      if (ticket !== null) enqueue.raise({ type: 'jm.savepoint.waited', ticket }, { delay: SAVEPOINT_MAX_WAIT_MS });
    }),
    status: ({ context, event, self }) => {
      if (event.type !== 'jm.status') return;
      reply(event.replyTo, detailsOf(context, stateOf(self.getSnapshot().value)));
    },
    end: ({ context }, params: { state: JobResult['state'] }) => {
      // A stop-with-savepoint cancels its tasks, yet the job ended as asked: finished, with its savepoint.
      const stopped = params.state === 'canceled' && context.stoppedWithSavepoint !== null;
      const state = stopped ? 'finished' : params.state;
      // All input processed: what is held is final. Otherwise only checkpointed records count.
      if (params.state === 'finished') releaseCollected(context);
      else dropHeldCollected(context);
      context.endedAt = context.env.clock.now();
      if (state === 'failed') recordFailure(context.exceptions, context.graph, context.failure, context.endedAt, false);
      abortAll(context, `the job ${state}`);
      const { job } = context;
      const result: JobResult = {
        jobId: job.jobId,
        name: job.name,
        state,
        submittedAt: job.submittedAt,
        endedAt: context.endedAt,
        collected: context.collected,
        ...(context.failure && state !== 'finished' ? { failure: context.failure } : {}),
        ...(stopped ? { stoppedWithSavepoint: context.stoppedWithSavepoint! } : {}),
        details: detailsOf(context, state),
      };
      context.env.log.info({ state, failure: context.failure?.message }, 'job ended');
      context.resourceManager.tell({ type: 'rm.slots.release', leaderSessionId: context.leaderSessionId, jobId: job.jobId });
      context.master.tell({ type: 'master.job.ended', leaderSessionId: context.leaderSessionId, result });
    },
  },
}).createMachine({
  id: 'jobmaster',
  // Spawned with the context: children for the JobMaster's whole life, across its restarts
  // (metadata stores, file removals, savepoint failures); its per-attempt draws are `running`'s.
  context: ({ input, spawn }) => {
    const log = input.env.log.child({ jobId: input.job.jobId });
    return initialContext(input, {
      checkpointStores: spawn('checkpointStores', { id: 'checkpoint-stores', input: { log } }),
      checkpointFiles: spawn('checkpointFiles', { id: 'checkpoint-files', input: { jobDir: joinLocation(input.checkpointDir, input.job.jobId), log } }),
      savepointFailures: spawn('savepointFailures', { id: 'savepoint-failures', input: { log } }),
    });
  },
  initial: 'starting',
  on: {
    'jm.suspend': '.suspended',
    'jm.status': { actions: 'status' },
    'jm.task.collect': { actions: 'collect' },
    'jm.task.metrics': { actions: 'taskMetrics' },
    // Checkpoint traffic of an attempt that is gone (or of a restart in progress) is harmless here.
    'jm.checkpoint.timeout': { actions: 'checkpointEvent' },
    'jm.savepoint.waited': { actions: 'checkpointEvent' },
    'jm.checkpoint.stored': { actions: 'checkpointEvent' },
    'jm.checkpoint.storeFailed': { actions: 'checkpointEvent' },
    // Reports that arrive once the reconciliation is over: whatever is not in the graph is cancelled.
    'jm.executions.reported': { actions: 'cancelUnadopted' },
  },
  states: {
    starting: {
      always: [{ guard: 'mayAdopt', target: 'reconciling' }, { target: 'created' }],
    },
    reconciling: {
      entry: 'askForReports',
      invoke: {
        src: 'loadRestorePoint',
        input: ({ context }) => ({ context }),
        onDone: { actions: assign({ reconcileLatest: ({ event }) => event.output as CompletedCheckpoint | null }) },
        onError: {
          target: 'created',
          actions: { type: 'abandonReconciliation', params: ({ event }) => ({ reason: `the latest checkpoint could not be read: ${toWireError(event.error).message}` }) },
        },
      },
      on: {
        'jm.executions.reported': { actions: 'takeReport' },
        'jm.taskexecutor.lost': { actions: 'forgetReports' },
        // The end releases the kept slots: their TaskExecutors cancel the tasks.
        'jm.cancel': { target: 'canceled', actions: ({ event }) => reply(event.replyTo, { state: 'canceled' }) },
      },
      always: { guard: 'allReported', target: 'running', actions: 'adopt' },
      after: {
        reconcileTimeout: {
          target: 'created',
          actions: {
            type: 'abandonReconciliation',
            params: ({ context }) => ({ reason: `${missingSubtasks(context).length} subtasks of attempt ${context.graph.attempt} were not reported running within ${context.reconcileTimeoutMs} ms` }),
          },
        },
      },
    },
    created: {
      invoke: {
        src: 'loadRestorePoint',
        input: ({ context }) => ({ context }),
        onDone: {
          target: 'waitingForResources',
          actions: [
            assign({ restorePoint: ({ event }) => event.output }),
            ({ context, event }) => {
              if (event.output && !event.output.savepoint) context.coordinator?.restoredFrom(event.output.handles);
            },
          ],
        },
        onError: { target: 'failed', actions: 'restoreFailed' },
      },
      on: { 'jm.cancel': { target: 'canceled', actions: ({ event }) => reply(event.replyTo, { state: 'canceled' }) } },
    },
    waitingForResources: {
      entry: 'declareSlots',
      on: {
        'jm.slots.offer': { actions: 'takeOffer' },
        'jm.cancel': { target: 'canceled', actions: ({ event }) => reply(event.replyTo, { state: 'canceled' }) },
        'jm.taskexecutor.lost': { actions: ['taskExecutorLost', 'allocationLost'] },
      },
      always: [
        { guard: 'anyFailed', target: 'deciding' },
        { guard: 'hasAllSlots', target: 'recordingAttempt' },
      ],
      after: { slotRequestTimeout: { target: 'failing', actions: 'slotTimeout' } },
    },
    // Until etcd holds this attempt, nothing of it runs; a write that fails is retried (a lost
    // leadership ends this JobMaster through `jm.suspend`).
    recordingAttempt: {
      initial: 'writing',
      on: {
        'jm.cancel': { target: 'canceled', actions: ({ event }) => reply(event.replyTo, { state: 'canceled' }) },
        'jm.taskexecutor.lost': { actions: 'taskExecutorLost' },
      },
      always: { guard: 'anyFailed', target: 'deciding' },
      states: {
        writing: {
          invoke: {
            src: 'recordAttempt',
            input: ({ context }) => ({ context }),
            onDone: { target: '#jobmaster.running', actions: 'deploy' },
            onError: {
              target: 'retrying',
              actions: ({ context, event }) => context.env.log.warn({ err: toWireError(event.error), attempt: context.graph.attempt }, 'could not record the attempt; retrying'),
            },
          },
        },
        retrying: { after: { recordAttemptRetry: 'writing' } },
      },
    },
    // Three regions: the periodic trigger, and the two draws of checkpoint ids from the counter
    // (etcd), invoked here so that leaving `running` cancels them (see checkpointing.ts, step 1).
    running: {
      type: 'parallel',
      states: {
        periodic: {
          initial: 'active',
          states: {
            active: {
              after: {
                checkpointInterval: { guard: 'checkpointing', target: 'active', reenter: true, actions: 'periodicCheckpoint' },
              },
            },
          },
        },
        trigger: {
          initial: 'idle',
          states: {
            idle: { always: { guard: 'triggerWanted', target: 'drawing' } },
            drawing: {
              invoke: {
                src: 'drawCheckpointId',
                input: ({ context }) => ({ context, trigger: context.trigger! }),
                onDone: { target: 'idle', actions: ['beginDrawn', 'armCheckpointTimeout'] },
                onError: { target: 'idle', actions: 'triggerFailed' },
              },
            },
          },
        },
        spare: {
          initial: 'idle',
          states: {
            idle: { always: { guard: 'spareWanted', target: 'drawing' } },
            drawing: {
              invoke: {
                src: 'drawSpareId',
                input: ({ context }) => ({ context }),
                onDone: { target: 'idle', actions: 'spareDrawn' },
                onError: { target: 'idle', actions: 'spareFailed' },
              },
            },
          },
        },
      },
      on: {
        'jm.task.state': { actions: 'taskState' },
        'jm.taskexecutor.lost': { actions: 'taskExecutorLost' },
        'jm.cancel': { target: 'canceling', actions: ({ event }) => reply(event.replyTo, { state: 'canceling' }) },
        'jm.savepoint': { actions: 'savepoint' },
        'jm.checkpoint.ack': { actions: 'checkpointEvent' },
        'jm.checkpoint.declined': { actions: 'checkpointEvent' },
        'jm.source.exhausted': { actions: 'checkpointEvent' },
        'jm.checkpoint.stored': { actions: 'checkpointEvent' },
      },
      always: [
        { guard: 'anyFailed', target: 'deciding' },
        { guard: 'stopRequested', target: 'canceling' },
        { guard: 'allFinished', target: 'finished' },
      ],
    },
    deciding: {
      entry: 'decideRestart',
      always: [{ guard: 'mayRestart', target: 'restarting' }, { target: 'failing' }],
    },
    restarting: {
      initial: 'stoppingTasks',
      entry: 'cancelSubtasks',
      on: {
        'jm.task.state': { actions: 'taskState' },
        // A subtask on a lost TaskExecutor never confirms its cancellation: it has failed, no need to wait the cancel timeout.
        'jm.taskexecutor.lost': { actions: 'taskExecutorLost' },
        'jm.cancel': { target: 'canceling', actions: ({ event }) => reply(event.replyTo, { state: 'canceling' }) },
      },
      states: {
        stoppingTasks: {
          always: { guard: 'allTerminal', target: 'waitingToRestart', actions: 'releaseSlots' },
          after: { cancelTimeout: { target: 'waitingToRestart', actions: ['forceTerminal', 'releaseSlots'] } },
        },
        waitingToRestart: {
          after: { restartDelay: 'settlingCheckpointStores' },
        },
        // A checkpoint aborted by this restart while its metadata was being stored may still land
        // in etcd. Loading the restore point before its outcome is known would start from the one
        // before it, and the sinks would drop the transactions that a later restore from it must
        // commit. The outcome arrives as jm.checkpoint.stored/storeFailed (handled at the root);
        // a store cannot hang longer than the lease, whose loss suspends this JobMaster.
        settlingCheckpointStores: {
          always: { guard: 'noCheckpointStoreInFlight', target: '#jobmaster.created', actions: 'nextAttempt' },
          after: {
            checkpointStoreSettleTimeout: {
              target: '#jobmaster.created',
              actions: [
                ({ context }) => context.env.log.warn({ checkpoints: [...context.abortedWhileStoring.keys()] }, 'checkpoint stores still unsettled; restarting without their outcome'),
                'nextAttempt',
              ],
            },
          },
        },
      },
    },
    failing: {
      entry: 'cancelSubtasks',
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
    // No result and no etcd writes: the job belongs to the next leader, which recovers it.
    suspended: {
      type: 'final',
      entry: ({ context }) => {
        context.coordinator?.inFlight().forEach((c) => context.coordinator!.abort(c.id, context.env.clock.now(), 'leadership lost'));
        // Their outcome is the next leader's to settle (it fails what is left in progress): say so now.
        for (const request of context.savepoints.values()) {
          replyError(request.replyTo, new RuntimeError(HaErrorCode.LeadershipLost, 'the leading Master lost leadership during the savepoint; the next leader decides its outcome'));
        }
        context.savepoints.clear();
        // A savepoint still drawing its id or writing its record: its draw was cancelled with `running`.
        if (context.trigger?.savepoint) {
          replyError(context.trigger.savepoint.replyTo, new RuntimeError(HaErrorCode.LeadershipLost, 'the leading Master lost leadership while the savepoint was starting; the next leader decides its outcome'));
        }
        context.trigger = null;
        for (const s of context.coordinator?.drainQueuedSavepoints() ?? []) {
          replyError(s.replyTo, new RuntimeError(SavepointErrorCode.Failed, 'savepoint not taken: this Master lost leadership; the new leader runs the job'));
        }
        context.env.log.warn('job suspended: leadership lost');
      },
    },
    finished: { type: 'final', entry: { type: 'end', params: { state: 'finished' } } },
    failed: { type: 'final', entry: { type: 'end', params: { state: 'failed' } } },
    canceled: { type: 'final', entry: { type: 'end', params: { state: 'canceled' } } },
  },
});

/** What a trigger's draw yields. */
interface Drawn {
  checkpointId: number;
  savepoint: SavepointRequest | null;
}

/** Subtasks of the graph's attempt that no report shows running. */
function missingSubtasks(context: Context): string[] {
  const running = new Set<string>();
  for (const report of context.reports.values()) {
    for (const e of report.executions) {
      if (e.state === 'running' && e.attempt === context.graph.attempt && report.allocations.some((a) => a.allocationId === e.allocationId)) running.add(e.executionId);
    }
  }
  return context.graph.subtasks.filter((s) => !running.has(s.executionId)).map((s) => s.executionId);
}

function stateOf(value: unknown): JobState {
  const state = typeof value === 'string' ? value : Object.keys(value as object)[0]!;
  if (state === 'deciding') return 'restarting';
  // Slots are held, nothing is deployed yet: still on the way to running.
  if (state === 'recordingAttempt') return 'waitingForResources';
  return state as JobState;
}
