/**
 * The JobMaster's checkpoint effects, in the order of a checkpoint's life:
 * 1. trigger: take the id drawn ahead from the checkpoint id counter (etcd, fenced; drawn
 *    when the previous checkpoint began) or draw one now, then `begin`. The draws are child
 *    actors invoked by `running` (its `trigger` and `spare` regions): leaving `running` cancels
 *    them, so an attempt never begins a checkpoint with an id drawn for the one before;
 * 2. begin: tell every source subtask to snapshot and inject the barrier;
 * 3. acknowledge: each subtask reports its state handle; on the last one, store the metadata in
 *    the completed checkpoint store (etcd, fenced), which subsumes older checkpoints;
 * 4. stored: tell every subtask the checkpoint completed (exactly-once sinks commit) and delete
 *    the files of subsumed checkpoints that no retained checkpoint refers to (incremental
 *    checkpoints share files, see shared-files.ts); a savepoint also writes its own metadata
 *    file, last, and copies in whatever it would otherwise share;
 * 5. abort (declined, timed out, or not storable): tell every subtask, delete its files.
 *
 * Files are objects in checkpoint storage (lib/storage): a directory, or an S3 prefix.
 */
import { releaseCollected } from './collected.js';
import { copyObject, joinLocation, normalizeLocation, parentOf } from '../../lib/storage/index.js';
import { toWireError } from '../../lib/errors.js';
import { RuntimeError } from '../../lib/errors.js';
import { SavepointErrorCode } from './errors.js';
import type { StateHandle } from '../../lib/task/descriptor.js';
import { termVouched } from '../../lib/ha/types.js';
import { encodeSnapshot, readSelfContained, snapshotPath, writeSnapshot } from '../../lib/task/snapshot-store.js';
import { CheckpointErrorCode } from './errors.js';
import { releaseFiles, unheldSharedFiles } from './shared-files.js';
import type { TaskExecutorMessage } from '../taskexecutor/protocol.js';
import type { ActorRef } from '../../lib/index.js';
import { replyError, reply } from '../../lib/index.js';
import { MAX_QUEUED_SAVEPOINTS, SAVEPOINT_MAX_WAIT_MS, type CompletedCheckpoint, type PendingCheckpoint } from './checkpoint-coordinator.js';
import { tellSafely, type CheckpointTrigger, type Context } from './context.js';
import { removeFiles } from './checkpoint-files.js';
import type { SavepointRequest } from './protocol.js';
import { writeSavepointMetadata } from './restore.js';
import { beginSavepointRecord, completeSavepointRecord } from './savepoints.js';
import { metrics } from '../../lib/metrics/registry.js';

/** Subtasks that take part in a checkpoint: all of the current attempt that have not finished. */
function participants(context: Context): string[] {
  return context.graph.subtasks.filter((s) => s.state !== 'finished').map((s) => s.executionId);
}

function allRunning(context: Context): boolean {
  return context.graph.subtasks.every((s) => s.state === 'running' || s.state === 'finished');
}

/** This job's part of checkpoint storage. */
export function jobCheckpointDir(context: Context): string {
  return joinLocation(context.checkpointDir, context.job.jobId);
}

export function checkpointDirOf(context: Context, id: number): string {
  return joinLocation(jobCheckpointDir(context), `chk-${id}`);
}

/** Step 1. Returns false (and fails the savepoint, if any) when a checkpoint cannot start now. */
export function triggerCheckpoint(context: Context, savepoint: SavepointRequest | null): boolean {
  const { coordinator, stores } = context;
  const now = context.env.clock.now();
  const refuse = (why: string) => {
    if (savepoint) replyError(savepoint.replyTo, new RuntimeError(SavepointErrorCode.Failed, why));
    return false;
  };
  if (!coordinator || !stores) return refuse('the job does not checkpoint (enable checkpointing in the job, and run the cluster with etcd)');
  if (!allRunning(context)) return refuse('not every subtask is running yet');
  if (!coordinator.canTrigger(now, savepoint !== null)) return refuse('a checkpoint is in flight');
  coordinator.triggering = true;
  // An id drawn ahead keeps the etcd counter's write off the trigger's path. `running`'s
  // `trigger` region draws the rest (drawCheckpointId) and then calls `beginCheckpoint`.
  context.trigger = { savepoint, spareId: coordinator.takeSpareId(), attempt: context.graph.attempt };
  return true;
}

/**
 * Step 1's effect, as the actor `running` invokes: the trigger's id (the spare, or one drawn
 * from the counter) and, for a savepoint, its record in etcd (in progress) before its barriers
 * go out. Once cancelled (`signal`), it starts no record.
 */
export async function drawCheckpointId(context: Context, trigger: CheckpointTrigger, signal: AbortSignal): Promise<{ checkpointId: number; savepoint: SavepointRequest | null }> {
  const checkpointId = trigger.spareId ?? (await context.stores!.checkpointIds.getAndIncrement(context.job.jobId));
  if (!trigger.savepoint || signal.aborted) return { checkpointId, savepoint: null };
  trigger.recording = beginSavepointRecord(context, trigger.savepoint, checkpointId);
  return { checkpointId, savepoint: await trigger.recording };
}

/** Step 1 could not draw an id (or record the savepoint): the trigger failed. */
export function triggerFailed(context: Context, error: unknown): void {
  const trigger = context.trigger;
  context.trigger = null;
  const wire = toWireError(error);
  context.coordinator?.triggerFailed(context.env.clock.now(), wire.message);
  metrics.checkpointFailed(context.job.jobId);
  context.env.log.warn({ error: wire }, 'checkpoint could not be triggered');
  if (trigger?.savepoint) reply(trigger.savepoint.replyTo as ActorRef<unknown>, { type: 'actor.ask.failure', error: wire });
}

/** A savepoint that will not complete: marked failed in etcd, then its requester told (savepoint-failures.ts). */
function failSavepoint(context: Context, request: SavepointRequest, reason: string, message: string, recording?: Promise<SavepointRequest>): void {
  context.savepointFailures.send({ type: 'savepoint.fail', context, request, reason, message, recording });
}

/**
 * A savepoint request: it starts now, or, when a checkpoint is in flight, it is queued and
 * starts when that checkpoint ends. Returns the ticket of a queued savepoint (the machine
 * arms its wait bound, see `savepointWaited`), else null.
 */
export function requestSavepoint(context: Context, savepoint: SavepointRequest): number | null {
  const { coordinator, stores, env } = context;
  if (!coordinator || !stores || !allRunning(context) || coordinator.canTrigger(context.env.clock.now(), true)) {
    triggerCheckpoint(context, savepoint);
    return null;
  }
  const ticket = coordinator.queueSavepoint(savepoint);
  if (ticket === null) {
    replyError(savepoint.replyTo, new RuntimeError(SavepointErrorCode.Failed, `${MAX_QUEUED_SAVEPOINTS} savepoints are already waiting for the checkpoint in flight; retry once one completed`));
    return null;
  }
  env.log.info({ queued: coordinator.savepointsQueued }, 'savepoint queued behind the checkpoint in flight');
  return ticket;
}

/**
 * A queued savepoint has waited SAVEPOINT_MAX_WAIT_MS: periodic checkpoints still in flight
 * are aborted for it (a savepoint in flight is waited for: its own timeout bounds it).
 */
export function savepointWaited(context: Context, ticket: number): void {
  const coordinator = context.coordinator;
  if (!coordinator?.isQueued(ticket)) return;
  for (const checkpoint of coordinator.inFlight()) {
    if (!checkpoint.savepoint) abortCheckpoint(context, checkpoint.id, `preempted by a savepoint that waited ${SAVEPOINT_MAX_WAIT_MS} ms for it`);
  }
}

/** The periodic trigger: it yields to a queued savepoint. */
export function periodicCheckpoint(context: Context): void {
  if (!triggerQueuedSavepoint(context)) triggerCheckpoint(context, null);
}

/** Starts the oldest queued savepoint if one waits and a checkpoint may start; true if one started. */
function triggerQueuedSavepoint(context: Context): boolean {
  const coordinator = context.coordinator;
  if (!coordinator || coordinator.savepointsQueued === 0 || !coordinator.canTrigger(context.env.clock.now(), true)) return false;
  return triggerCheckpoint(context, coordinator.takeQueuedSavepoint()!);
}

/**
 * A checkpoint ended, or could not start, or a subtask came up: what waited goes next, a queued
 * savepoint first, then the final checkpoint an exhausted source waits for (any checkpoint that
 * begins serves as that: `finalCheckpointWanted` holds until one begins).
 */
export function triggerNext(context: Context): void {
  if (!triggerQueuedSavepoint(context) && context.finalCheckpointWanted) triggerCheckpoint(context, null);
}

/** A source read all its input: it ends after a checkpoint triggered from now on completes. */
export function sourceExhausted(context: Context): void {
  if (!context.coordinator) return;
  context.finalCheckpointWanted = true;
  triggerNext(context);
}

/**
 * Asks for the next checkpoint's id to be drawn ahead of its trigger (see
 * CheckpointCoordinator.spareId): `running`'s `spare` region draws it while `fetchingSpareId`.
 */
function drawSpareId(context: Context): void {
  const { coordinator, stores } = context;
  if (!coordinator || !stores || !coordinator.wantsSpareId()) return;
  coordinator.fetchingSpareId = true;
}

/** The `spare` region's draw ended (null: it failed; the next trigger draws its own and reports). */
export function spareIdDrawn(context: Context, checkpointId: number | null): void {
  context.coordinator?.offerSpareId(checkpointId);
}

/** Step 2. */
export function beginCheckpoint(context: Context, checkpointId: number, attempt: number, savepoint: SavepointRequest | null): void {
  const { coordinator, graph, env } = context;
  if (!coordinator) return;
  coordinator.triggering = false;
  // Leaving `running` cancels a draw, so this is a guard only: the graph is the trigger's.
  if (attempt !== graph.attempt || !allRunning(context)) {
    if (savepoint) {
      const reason = 'the job restarted while the savepoint was starting';
      failSavepoint(context, savepoint, reason, reason);
    }
    return triggerNext(context);
  }
  const dir = savepoint?.record ? savepoint.record.path : checkpointDirOf(context, checkpointId);
  const checkpoint = coordinator.begin(checkpointId, attempt, context.env.clock.now(), dir, savepoint !== null, participants(context));
  context.finalCheckpointWanted = false; // exhausted sources take this one as their final checkpoint
  if (savepoint) context.savepoints.set(checkpointId, savepoint);
  env.log.debug({ checkpointId, savepoint: savepoint !== null, subtasks: checkpoint.awaiting.size }, 'checkpoint triggered');
  drawSpareId(context);
  const sources = new Set(context.job.jobGraph.vertices.filter((v) => v.inputs.length === 0).map((v) => v.id));
  for (const ev of graph.subtasks) {
    if (!sources.has(ev.vertexId) || ev.state !== 'running') continue;
    tellSafely(context, ev.slot!.taskExecutor, {
      type: 'te.checkpoint.trigger',
      leaderSessionId: context.leaderSessionId,
      executionId: ev.executionId,
      checkpointId,
      options: { savepoint: savepoint !== null, dir },
    });
  }
  // Its triggers are on their way: from here on, only the acknowledgements decide. Said on the
  // next tick, after the transport has flushed them (it batches a tick's sends), so that the
  // line means they left this process (the failover tests pause the leader on it).
  if (savepoint) process.nextTick(() => env.log.info({ checkpointId, path: dir, stop: savepoint.stop }, 'savepoint triggered'));
}

/** Step 3. */
export function acknowledgeCheckpoint(context: Context, executionId: string, checkpointId: number, handle: StateHandle): void {
  const complete = context.coordinator?.acknowledge(checkpointId, executionId, handle);
  if (complete) storeCheckpoint(context, complete);
}

/** Step 3 for a subtask that finished: checkpoints still waiting for it complete without it. */
export function subtaskFinished(context: Context, executionId: string): void {
  for (const complete of context.coordinator?.subtaskFinished(executionId) ?? []) storeCheckpoint(context, complete);
}

/** Fully acknowledged: store the metadata in the completed checkpoint store (or the savepoint's file). */
function storeCheckpoint(context: Context, complete: PendingCheckpoint): void {
  const { coordinator, stores, env } = context;
  if (!coordinator || !stores) return;
  const metadata = coordinator.metadata(complete, context.env.clock.now());
  const store = async (): Promise<void> => {
    if (metadata.savepoint) {
      metadata.handles = await Promise.all(metadata.handles.map((h) => selfContained(metadata.dir, h)));
      await writeSavepointMetadata(metadata);
      // Only a savepoint recorded as completed (with its stop intent) is reported to the client.
      const request = context.savepoints.get(metadata.checkpointId);
      if (request) await completeSavepointRecord(context, request);
      return;
    }
    const checkpoints = stores.checkpoints(coordinator.config.retained);
    const before = (await checkpoints.list(context.job.jobId)) as unknown as CompletedCheckpoint[];
    const unheld = unheldSharedFiles(metadata, before);
    if (unheld.length > 0) {
      throw new RuntimeError(CheckpointErrorCode.SharedFileReleased, `checkpoint ${metadata.checkpointId} refers to ${unheld.length} file(s) of checkpoints no longer retained (e.g. ${unheld[0]}); the next checkpoint bases on a retained one`, {
        details: { checkpointId: metadata.checkpointId, files: unheld.slice(0, 10) },
      });
    }
    const subsumed = (await checkpoints.add(context.job.jobId, { ...metadata })) as unknown as CompletedCheckpoint[];
    // Reference counting: a subsumed checkpoint's files go unless a retained one still refers to
    // them. Part of the store: once the record landed, whether the JobMaster still lives or not.
    if (subsumed.length === 0) return;
    const gone = new Set(subsumed.map((c) => c.checkpointId));
    const release = releaseFiles(subsumed, [...before, metadata].filter((c) => !gone.has(c.checkpointId)));
    // Deletion is best effort, off the machine's path; removeFiles logs what it could not delete.
    // Run by the store's child (checkpoint-stores.ts), not by a machine action.
    for (const dir of release.dirs) void removeFiles(jobCheckpointDir(context), dir, env.log, release.referenced);
  };
  const { checkpointId } = metadata;
  context.checkpointStores.send({
    type: 'checkpoint.store',
    run: store,
    stored: () => {
      // The record landed in this term; a paused leader may only now see the answer, after a
      // newer leader took over: then nothing is acted on (commit notices, completion), and the
      // check ends this term. The next leader finds the checkpoint in the store.
      if (!termVouched(stores.guard)) {
        env.log.warn({ checkpointId }, 'checkpoint stored, but this term is over: not acting on it');
        return;
      }
      env.self.tell({ type: 'jm.checkpoint.stored', checkpointId });
    },
    failed: (err) => env.self.tell({ type: 'jm.checkpoint.storeFailed', checkpointId, error: toWireError(err) }),
  });
}

/**
 * A savepoint must outlive the job's checkpoints: the handle of a finished subtask, carried
 * from an older checkpoint, is copied into the savepoint's directory, and one that shares
 * earlier files (an incremental checkpoint's) is rewritten whole.
 */
async function selfContained(dir: string, handle: StateHandle): Promise<StateHandle> {
  if (parentOf(handle.path) === normalizeLocation(dir) && handle.shared === undefined) return handle;
  const copy = snapshotPath(dir, handle.vertexId, handle.subtaskIndex);
  if (handle.shared === undefined) {
    await copyObject(handle.path, copy);
    return { ...handle, path: copy };
  }
  const bytes = encodeSnapshot(await readSelfContained(handle.path));
  await writeSnapshot(copy, bytes);
  return { vertexId: handle.vertexId, subtaskIndex: handle.subtaskIndex, path: copy, bytes: bytes.length };
}

/** Step 4. */
export function checkpointStored(context: Context, checkpointId: number): void {
  const { coordinator, env } = context;
  context.abortedWhileStoring.delete(checkpointId); // stored after all: a complete checkpoint, files kept
  const stats = coordinator?.complete(checkpointId, context.env.clock.now());
  if (!stats) return;
  env.log.info({ checkpointId, durationMs: stats.durationMs, bytes: stats.bytes, savepoint: stats.savepoint }, 'checkpoint completed');
  metrics.checkpointCompleted(context.job.jobId, stats.durationMs ?? 0, stats.bytes);
  notifyAll(context, checkpointId, 'complete');
  releaseCollected(context, checkpointId);
  const savepoint = context.savepoints.get(checkpointId);
  if (savepoint) {
    context.savepoints.delete(checkpointId);
    const dir = savepoint.record?.path ?? checkpointDirOf(context, checkpointId);
    reply(savepoint.replyTo, { path: dir });
    if (savepoint.stop) {
      context.stopRequested = true;
      context.stoppedWithSavepoint = dir;
    }
  }
  if (!context.stopRequested) triggerNext(context);
}

/** Step 5. `next`: let a queued savepoint or a wanted final checkpoint start (not when the job stops). */
export function abortCheckpoint(context: Context, checkpointId: number, reason: string, next = true): void {
  const aborted = context.coordinator?.abort(checkpointId, context.env.clock.now(), reason);
  if (!aborted) return;
  context.env.log.warn({ checkpointId, reason }, 'checkpoint aborted');
  metrics.checkpointFailed(context.job.jobId);
  // Fully acknowledged, it is being stored: its record may land in etcd even now, and a new
  // leader would restore it, so its files and the sinks' pending transactions stay until the
  // store's outcome is known.
  if (aborted.awaiting.size === 0) context.abortedWhileStoring.set(checkpointId, aborted.dir);
  else discard(context, checkpointId, aborted.dir);
  const savepoint = context.savepoints.get(checkpointId);
  if (savepoint) {
    context.savepoints.delete(checkpointId);
    // The client hears of it once etcd says failed: a new leader then agrees with what it was told.
    failSavepoint(context, savepoint, reason, `savepoint aborted: ${reason}`);
  }
  if (next) triggerNext(context);
}

/** The metadata of checkpoint `checkpointId` could not be stored: it is aborted, and its files go. */
export function checkpointStoreFailed(context: Context, checkpointId: number, reason: string): void {
  const dir = context.abortedWhileStoring.get(checkpointId);
  if (dir === undefined) return abortCheckpoint(context, checkpointId, reason);
  context.abortedWhileStoring.delete(checkpointId);
  discard(context, checkpointId, dir);
}

/** An aborted checkpoint's sinks drop its transactions, and its files go. */
function discard(context: Context, checkpointId: number, dir: string): void {
  notifyAll(context, checkpointId, 'abort');
  context.checkpointFiles.send({ type: 'files.remove', dir }); // best effort; it logs what it could not delete
}

/** The machine's timeout of checkpoint `checkpointId` fired: it ends now if it is still pending. */
export function checkpointTimedOut(context: Context, checkpointId: number): void {
  const coordinator = context.coordinator;
  if (!coordinator?.get(checkpointId)) return;
  abortCheckpoint(context, checkpointId, `timed out after ${coordinator.config.timeoutMs} ms`);
}

/** The job stops or restarts: every pending checkpoint is aborted and every queued savepoint fails. */
export function abortAll(context: Context, reason: string): void {
  for (const checkpoint of context.coordinator?.inFlight() ?? []) abortCheckpoint(context, checkpoint.id, reason, false);
  for (const savepoint of context.coordinator?.drainQueuedSavepoints() ?? []) {
    replyError(savepoint.replyTo, new RuntimeError(SavepointErrorCode.Failed, `savepoint not taken: ${reason}`));
  }
  // Leaving `running` cancelled the draws: a savepoint waiting for its id or record fails (once
  // a record write under way has landed, so that it lands failed), and a spare is drawn anew.
  const trigger = context.trigger;
  context.trigger = null;
  if (trigger?.savepoint) failSavepoint(context, trigger.savepoint, reason, `savepoint not taken: ${reason}`, trigger.recording);
  if (context.coordinator) {
    context.coordinator.triggering = false;
    context.coordinator.fetchingSpareId = false;
  }
  context.finalCheckpointWanted = false;
}

/**
 * A new leader adopted the job's running tasks: they hear again that `checkpointId` (the latest
 * completed one) completed, so that sinks commit what they pre-committed for it if the leader
 * before stored it but died before telling them. Committing twice is a no-op.
 */
export function renotifyCompleted(context: Context, checkpointId: number): void {
  notifyAll(context, checkpointId, 'complete');
}

/** Every TaskExecutor running a subtask of the job hears of the outcome once. */
function notifyAll(context: Context, checkpointId: number, outcome: 'complete' | 'abort'): void {
  const seen = new Set<ActorRef<TaskExecutorMessage>>();
  for (const slot of context.graph.heldSlots()) {
    if ([...seen].some((ref) => ref.equals(slot.taskExecutor))) continue;
    seen.add(slot.taskExecutor);
    tellSafely(context, slot.taskExecutor, {
      type: 'te.checkpoint.notify',
      leaderSessionId: context.leaderSessionId,
      jobId: context.job.jobId,
      attempt: context.graph.attempt,
      checkpointId,
      outcome,
    });
  }
}
