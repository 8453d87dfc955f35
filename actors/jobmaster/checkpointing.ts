/**
 * The JobMaster's checkpoint effects, in the order of a checkpoint's life:
 * 1. trigger: draw an id from the checkpoint id counter (etcd, fenced), then `begin`;
 * 2. begin: tell every source subtask to snapshot and inject the barrier;
 * 3. acknowledge: each subtask reports its state handle; on the last one, store the metadata in
 *    the completed checkpoint store (etcd, fenced), which subsumes older checkpoints;
 * 4. stored: tell every subtask the checkpoint completed (exactly-once sinks commit) and delete
 *    the files of subsumed checkpoints; a savepoint also writes its own metadata file;
 * 5. abort (declined, timed out, or not storable): tell every subtask, delete its files.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { toWireError } from '../../lib/errors.js';
import { RuntimeError } from '../../lib/errors.js';
import type { StateHandle } from '../../lib/task/descriptor.js';
import type { TaskExecutorMessage } from '../taskexecutor/protocol.js';
import type { ActorRef } from '../../lib/index.js';
import { replyError, reply } from '../../lib/index.js';
import type { CompletedCheckpoint } from './checkpoint-coordinator.js';
import { tellSafely, type Context } from './context.js';
import type { SavepointRequest } from './protocol.js';
import { writeSavepointMetadata } from './restore.js';
import { beginSavepointRecord, completeSavepointRecord, failSavepointRecord } from './savepoints.js';
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
  return path.join(context.checkpointDir, context.job.jobId);
}

export function checkpointDirOf(context: Context, id: number): string {
  return path.join(jobCheckpointDir(context), `chk-${id}`);
}

/** Step 1. Returns false (and fails the savepoint, if any) when a checkpoint cannot start now. */
export function triggerCheckpoint(context: Context, savepoint: SavepointRequest | null): boolean {
  const { coordinator, stores, env } = context;
  const now = Date.now();
  const refuse = (why: string) => {
    if (savepoint) replyError(savepoint.replyTo, new RuntimeError('SAVEPOINT_FAILED', why));
    return false;
  };
  if (!coordinator || !stores) return refuse('the job does not checkpoint (enable checkpointing in the job, and run the cluster with etcd)');
  if (!allRunning(context)) return refuse('not every subtask is running yet');
  if (!coordinator.canTrigger(now, savepoint !== null)) return refuse('too many checkpoints in flight; retry shortly');
  coordinator.triggering = true;
  const attempt = context.graph.attempt;
  stores.checkpointIds
    .getAndIncrement(context.job.jobId)
    .then(async (checkpointId) => {
      const begun = savepoint ? await beginSavepointRecord(context, savepoint, checkpointId) : null;
      env.self.tell({ type: 'jm.checkpoint.begin', checkpointId, attempt, savepoint: begun });
    })
    .catch((err: unknown) => env.self.tell({ type: 'jm.checkpoint.triggerFailed', error: toWireError(err), savepoint }));
  return true;
}

/** Step 2. */
export function beginCheckpoint(context: Context, checkpointId: number, attempt: number, savepoint: SavepointRequest | null): void {
  const { coordinator, graph, env } = context;
  if (!coordinator) return;
  coordinator.triggering = false;
  if (attempt !== graph.attempt || !allRunning(context)) {
    if (savepoint) {
      const reason = 'the job restarted while the savepoint was starting';
      void failSavepointRecord(context, savepoint, reason).then(() => replyError(savepoint.replyTo, new RuntimeError('SAVEPOINT_FAILED', reason)));
    }
    return;
  }
  const dir = savepoint?.record ? savepoint.record.path : checkpointDirOf(context, checkpointId);
  const checkpoint = coordinator.begin(checkpointId, attempt, Date.now(), dir, savepoint !== null, participants(context));
  if (savepoint) context.savepoints.set(checkpointId, savepoint);
  env.log.debug({ checkpointId, savepoint: savepoint !== null, subtasks: checkpoint.awaiting.size }, 'checkpoint triggered');
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
}

/** Step 3. */
export function acknowledgeCheckpoint(context: Context, executionId: string, checkpointId: number, handle: StateHandle): void {
  const { coordinator, stores, env } = context;
  if (!coordinator || !stores) return;
  const complete = coordinator.acknowledge(checkpointId, executionId, handle);
  if (!complete) return;
  const metadata = coordinator.metadata(complete, Date.now());
  const store = async () => {
    if (metadata.savepoint) {
      await writeSavepointMetadata(metadata);
      // Only a savepoint recorded as completed (with its stop intent) is reported to the client.
      const request = context.savepoints.get(checkpointId);
      if (request) await completeSavepointRecord(context, request);
      return [];
    }
    const subsumed = await stores.checkpoints(coordinator.config.retained).add(context.job.jobId, { ...metadata });
    return subsumed as unknown as CompletedCheckpoint[];
  };
  store().then(
    (subsumed) => {
      env.self.tell({ type: 'jm.checkpoint.stored', checkpointId });
      // Handles carried forward still point into older checkpoints' directories: keep those files.
      const referenced = new Set(metadata.handles.map((h) => path.resolve(h.path)));
      for (const old of subsumed) void removeFiles(context, old.dir, referenced);
    },
    (err: unknown) => env.self.tell({ type: 'jm.checkpoint.storeFailed', checkpointId, error: toWireError(err) }),
  );
}

/** Step 4. */
export function checkpointStored(context: Context, checkpointId: number): void {
  const { coordinator, env } = context;
  const stats = coordinator?.complete(checkpointId, Date.now());
  if (!stats) return;
  env.log.info({ checkpointId, durationMs: stats.durationMs, bytes: stats.bytes, savepoint: stats.savepoint }, 'checkpoint completed');
  metrics.checkpointCompleted(context.job.jobId, stats.durationMs ?? 0, stats.bytes);
  notifyAll(context, checkpointId, 'complete');
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
  if (context.finalCheckpointWanted) context.finalCheckpointWanted = !triggerCheckpoint(context, null);
}

/** Step 5. */
export function abortCheckpoint(context: Context, checkpointId: number, reason: string): void {
  const aborted = context.coordinator?.abort(checkpointId, Date.now(), reason);
  if (!aborted) return;
  context.env.log.warn({ checkpointId, reason }, 'checkpoint aborted');
  metrics.checkpointFailed(context.job.jobId);
  notifyAll(context, checkpointId, 'abort');
  void removeFiles(context, aborted.dir);
  const savepoint = context.savepoints.get(checkpointId);
  if (savepoint) {
    context.savepoints.delete(checkpointId);
    // The client hears of it once etcd says failed: a new leader then agrees with what it was told.
    void failSavepointRecord(context, savepoint, reason).then(() =>
      replyError(savepoint.replyTo, new RuntimeError('SAVEPOINT_FAILED', `savepoint aborted: ${reason}`)),
    );
  }
}

export function abortExpired(context: Context): void {
  for (const checkpoint of context.coordinator?.expired(Date.now()) ?? []) {
    abortCheckpoint(context, checkpoint.id, `timed out after ${context.coordinator!.config.timeoutMs} ms`);
  }
}

export function abortAll(context: Context, reason: string): void {
  for (const checkpoint of context.coordinator?.inFlight() ?? []) abortCheckpoint(context, checkpoint.id, reason);
  if (context.coordinator) context.coordinator.triggering = false;
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
      checkpointId,
      outcome,
    });
  }
}

/** Delete a checkpoint's directory, except files that a newer checkpoint still references. */
async function removeFiles(context: Context, dir: string, keep: ReadonlySet<string> = new Set()): Promise<void> {
  // Only ever inside this job's checkpoint directory: a bad path in metadata must not delete elsewhere.
  const resolved = path.resolve(dir);
  if (!resolved.startsWith(jobCheckpointDir(context) + path.sep)) return;
  try {
    const entries = await readdir(resolved).catch(() => [] as string[]);
    const kept = entries.filter((name) => keep.has(path.join(resolved, name)));
    if (kept.length === 0) {
      await rm(resolved, { recursive: true, force: true });
      return;
    }
    await Promise.all(entries.filter((name) => !kept.includes(name)).map((name) => rm(path.join(resolved, name), { recursive: true, force: true })));
  } catch (err) {
    context.env.log.warn({ err, dir }, 'could not delete checkpoint files');
  }
}
