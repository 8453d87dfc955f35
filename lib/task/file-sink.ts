/**
 * The transactional file sink behind `writeToFiles(dir)`: exactly-once output by two-phase
 * commit on checkpoints (Flink's TwoPhaseCommitSinkFunction / FileSink).
 *
 * File protocol, per sink subtask i of job J (the prefix: the job id, the same in every attempt
 * and under every leader, so that two jobs can never rename over each other's files):
 *
 *   write    records go, one line each, to `<dir>/.part-J-i-<epoch>.inprogress` (opened on the
 *            first record after a barrier; epoch = last barrier's checkpoint id + 1)
 *   barrier  pre-commit: flush, fsync, close; the file goes into the snapshot as pending
 *   complete(n)  commit every pending file of checkpoints <= n: rename to `<dir>/part-J-i-<epoch>`
 *            (idempotent: a file already renamed is a no-op)
 *   restore  commit the pending files of the restored state (their checkpoint completed; they
 *            keep the prefix of the job that wrote them, e.g. the job a savepoint was taken of),
 *            then delete every other `.inprogress` file of the subtasks taken over, of this job
 *            or of the job restored from: their records come again from the restored sources
 *   end of input  commit everything (the sources end only after their final checkpoint completed)
 *
 * Without checkpointing the sink commits its one file when the input ends. The job's output is
 * the concatenation of the committed `part-*` files. One directory per sink.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { formatRecord } from '../dataflow/sinks.js';
import { SinkCommitFailedError } from './errors.js';

const BATCH_CHARS = 64 * 1024;
/** `.part-[<prefix>-]<subtask>-<epoch>.inprogress`; files without a prefix are of older versions. */
const IN_PROGRESS = /^\.part-(?:([\w]+)-)?(\d+)-(\d+)\.inprogress$/;
const COMMITTED = /^part-(?:([\w]+)-)?(\d+)-(\d+)$/;

/** A file written and pre-committed at `checkpointId`, waiting for that checkpoint to complete. */
export interface PendingFile {
  /** The writing job's file prefix (absent in states of older versions: no prefix). */
  readonly prefix?: string;
  readonly subtask: number;
  readonly epoch: number;
  readonly checkpointId: number;
}

/** The sink's part of a snapshot. */
export interface FileSinkState {
  /** The prefix of the job that took it: a job restoring it deletes that job's stray files. */
  readonly prefix?: string;
  readonly pending: readonly PendingFile[];
}

function baseName(prefix: string | undefined, subtask: number, epoch: number): string {
  return prefix ? `part-${prefix}-${subtask}-${epoch}` : `part-${subtask}-${epoch}`;
}

export function inProgressFile(dir: string, subtask: number, epoch: number, prefix?: string): string {
  return join(dir, `.${baseName(prefix, subtask, epoch)}.inprogress`);
}

export function committedFile(dir: string, subtask: number, epoch: number, prefix?: string): string {
  return join(dir, baseName(prefix, subtask, epoch));
}

export interface FileSinkOptions {
  readonly dir: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  /** False: commit at end of input only. */
  readonly checkpointing: boolean;
  /** Unique to the job and the same in all its attempts (the job id): in every file name. */
  readonly filePrefix?: string;
  /** The restored checkpoint and the sink states of the old subtasks this one takes over. */
  readonly restored?: { readonly checkpointId: number; readonly states: readonly FileSinkState[] };
}

/**
 * @example
 * const sink = new TransactionalFileSink({ dir, subtaskIndex: 0, parallelism: 1, checkpointing: true });
 * sink.write('a');
 * const state = sink.snapshot(1);   // pre-commit: .part-0-1.inprogress is pending
 * sink.commit(1);                   // part-0-1 is visible
 */
export class TransactionalFileSink {
  private fd: number | undefined;
  private text = '';
  private epoch: number;
  private pending: PendingFile[] = [];

  constructor(private readonly options: FileSinkOptions) {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    this.epoch = (options.restored?.checkpointId ?? 0) + 1;
    const restoredPending = options.restored?.states.flatMap((s) => s.pending) ?? [];
    this.commitFiles(restoredPending);
    this.deleteStrayFiles();
    // Checkpoint ids restart with a job restored from a savepoint, so `id + 1` may name a file
    // it committed already (before a failover): never reuse a committed name.
    this.epoch = Math.max(this.epoch, this.highestCommittedEpoch() + 1);
  }

  write(record: unknown): void {
    if (this.fd === undefined) this.fd = openSync(inProgressFile(this.options.dir, this.options.subtaskIndex, this.epoch, this.options.filePrefix), 'w', 0o600);
    this.text += formatRecord(record) + '\n';
    if (this.text.length >= BATCH_CHARS) this.flush();
  }

  flush(): void {
    if (this.text.length === 0 || this.fd === undefined) return;
    writeSync(this.fd, this.text);
    this.text = '';
  }

  /** Pre-commit at a barrier: the current file becomes pending; the state lists every pending file. */
  snapshot(checkpointId: number): FileSinkState {
    this.closeCurrent(checkpointId);
    this.epoch = Math.max(this.epoch, checkpointId + 1);
    return { ...(this.options.filePrefix ? { prefix: this.options.filePrefix } : {}), pending: this.pending.slice() };
  }

  /** Checkpoint `checkpointId` completed: its pending files and older ones become visible. */
  commit(checkpointId: number): void {
    const due = this.pending.filter((p) => p.checkpointId <= checkpointId);
    if (due.length === 0) return;
    this.commitFiles(due);
    this.pending = this.pending.filter((p) => p.checkpointId > checkpointId);
  }

  /**
   * The checkpoint was aborted: its pending files stay pending (their records are not replayed
   * unless the job restores) and commit with the next completed checkpoint. Leftovers of earlier
   * attempts are removed.
   */
  abort(_checkpointId: number): void {
    this.deleteStrayFiles();
  }

  /** End of input: everything written is final. */
  close(): void {
    this.closeCurrent(this.options.checkpointing ? Number.MAX_SAFE_INTEGER : 0);
    this.commitFiles(this.pending);
    this.pending = [];
  }

  /** Pending files, for tests and logs. */
  pendingFiles(): readonly PendingFile[] {
    return this.pending;
  }

  private closeCurrent(checkpointId: number): void {
    if (this.fd === undefined) return;
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
    const prefix = this.options.filePrefix;
    this.pending.push({ ...(prefix ? { prefix } : {}), subtask: this.options.subtaskIndex, epoch: this.epoch, checkpointId });
    this.epoch++;
  }

  private commitFiles(files: readonly PendingFile[]): void {
    const dir = this.options.dir;
    for (const f of files) {
      const from = inProgressFile(dir, f.subtask, f.epoch, f.prefix);
      const to = committedFile(dir, f.subtask, f.epoch, f.prefix);
      try {
        renameSync(from, to);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && exists(to)) continue; // committed before: a replayed commit is a no-op
        throw new SinkCommitFailedError(from, code === 'ENOENT' ? 'neither the pending file nor its committed name exists' : String(code), err);
      }
    }
    if (files.length > 0) syncDir(dir);
  }

  private highestCommittedEpoch(): number {
    const { dir, subtaskIndex, filePrefix = '' } = this.options;
    let highest = 0;
    for (const name of readdirSync(dir)) highest = Math.max(highest, committedEpochOf(name, filePrefix, subtaskIndex) ?? 0);
    return highest;
  }

  /**
   * Deletes in-progress files of the subtasks this one owns (old index j with j mod parallelism
   * = index) that are not its own, of this job or of the job its restored state came from;
   * never another job's.
   */
  private deleteStrayFiles(): void {
    const { dir, subtaskIndex, parallelism, filePrefix = '' } = this.options;
    const ours = new Set([filePrefix, ...(this.options.restored?.states ?? []).map((s) => s.prefix ?? '')]);
    const mine = new Set(this.pending.map((p) => `${p.prefix ?? ''}-${p.subtask}-${p.epoch}`));
    if (this.fd !== undefined) mine.add(`${filePrefix}-${subtaskIndex}-${this.epoch}`);
    for (const name of readdirSync(dir)) {
      const m = IN_PROGRESS.exec(name);
      if (m === null) continue;
      const prefix = m[1] ?? '';
      const j = Number(m[2]);
      if (!ours.has(prefix) || j % parallelism !== subtaskIndex || mine.has(`${prefix}-${j}-${m[3]}`)) continue;
      try {
        unlinkSync(join(dir, name));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
}

function committedEpochOf(name: string, prefix: string, subtask: number): number | undefined {
  const m = COMMITTED.exec(name);
  if (m === null || (m[1] ?? '') !== prefix || Number(m[2]) !== subtask) return undefined;
  return Number(m[3]);
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
