/**
 * The transactional file sink behind `writeToFiles(dir)`: exactly-once output by two-phase
 * commit on checkpoints (Flink's TwoPhaseCommitSinkFunction / FileSink).
 *
 * File protocol, per sink subtask i:
 *
 *   write    records go, one line each, to `<dir>/.part-i-<epoch>.inprogress` (opened on the
 *            first record after a barrier; epoch = last barrier's checkpoint id + 1)
 *   barrier  pre-commit: flush, fsync, close; the file goes into the snapshot as pending
 *   complete(n)  commit every pending file of checkpoints <= n: rename to `<dir>/part-i-<epoch>`
 *            (idempotent: a file already renamed is a no-op)
 *   restore  commit the pending files of the restored state (their checkpoint completed), then
 *            delete every other `.inprogress` file of the subtasks taken over: their records come
 *            again from the restored sources
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
const IN_PROGRESS = /^\.part-(\d+)-(\d+)\.inprogress$/;

/** A file written and pre-committed at `checkpointId`, waiting for that checkpoint to complete. */
export interface PendingFile {
  readonly subtask: number;
  readonly epoch: number;
  readonly checkpointId: number;
}

/** The sink's part of a snapshot. */
export interface FileSinkState {
  readonly pending: readonly PendingFile[];
}

export function inProgressFile(dir: string, subtask: number, epoch: number): string {
  return join(dir, `.part-${subtask}-${epoch}.inprogress`);
}

export function committedFile(dir: string, subtask: number, epoch: number): string {
  return join(dir, `part-${subtask}-${epoch}`);
}

export interface FileSinkOptions {
  readonly dir: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  /** False: commit at end of input only. */
  readonly checkpointing: boolean;
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
  }

  write(record: unknown): void {
    if (this.fd === undefined) this.fd = openSync(inProgressFile(this.options.dir, this.options.subtaskIndex, this.epoch), 'w', 0o600);
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
    return { pending: this.pending.slice() };
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
    this.pending.push({ subtask: this.options.subtaskIndex, epoch: this.epoch, checkpointId });
    this.epoch++;
  }

  private commitFiles(files: readonly PendingFile[]): void {
    const dir = this.options.dir;
    for (const f of files) {
      const from = inProgressFile(dir, f.subtask, f.epoch);
      const to = committedFile(dir, f.subtask, f.epoch);
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

  /** Deletes in-progress files of the subtasks this one owns (old index j with j mod parallelism = index) that are not its own. */
  private deleteStrayFiles(): void {
    const { dir, subtaskIndex, parallelism } = this.options;
    const mine = new Set(this.pending.map((p) => `${p.subtask}-${p.epoch}`));
    if (this.fd !== undefined) mine.add(`${subtaskIndex}-${this.epoch}`);
    for (const name of readdirSync(dir)) {
      const m = IN_PROGRESS.exec(name);
      if (m === null) continue;
      const j = Number(m[1]);
      if (j % parallelism !== subtaskIndex || mine.has(`${j}-${m[2]}`)) continue;
      try {
        unlinkSync(join(dir, name));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
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
