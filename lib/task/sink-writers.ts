/**
 * The writers behind the built-in sinks, inside a task's worker: print (lines to the
 * TaskExecutor process's stdout, formatted by dataflow/sinks.ts), writeAsText (a file per
 * subtask) and collect (records batched into `task.collect` events for the JobMaster, each
 * batch tagged with the last checkpoint barrier before its records: the JobMaster releases
 * it to the client only once a later checkpoint completes, which makes collect() exactly once).
 *
 * All of them batch: the worker posts one message per batch, not per record, and the file
 * writer writes 64 KB at a time. `flush()` runs on the task's buffer timeout so that output
 * does not wait for a batch to fill.
 *
 * writeToFiles is checkpointed (file-sink.ts): its state goes into the task's snapshot by
 * operator id, and checkpoint notifications commit its files.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SinkContext, SinkWriter } from '../dataflow/collector.js';
import { formatPrintLine, formatRecord, textSinkFile } from '../dataflow/sinks.js';
import { TransactionalFileSink, type FileSinkState } from './file-sink.js';
import type { FromWorker } from './worker-protocol.js';

const TEXT_BATCH_CHARS = 64 * 1024;

export interface FlushableSinkWriter extends SinkWriter {
  flush(): void;
}

/** What checkpointed sinks start from. */
export interface SinkCheckpointing {
  readonly enabled: boolean;
  /** The job's prefix of part file names (its id): no two jobs' files share a name. */
  readonly filePrefix?: string;
  /** The restored checkpoint and, by sink operator id, the states this subtask takes over. */
  readonly restored?: { readonly checkpointId: number; readonly states: Readonly<Record<string, unknown[]>> };
}

/** Creates the writers of a task's sinks and flushes them together. */
export class SinkWriters {
  private readonly writers: FlushableSinkWriter[] = [];
  private readonly transactional = new Map<string, TransactionalFileSink>();
  private readonly collectors: CollectWriter[] = [];

  constructor(
    private readonly post: (msg: FromWorker) => void,
    private readonly collectBatchRecords: number,
    private readonly checkpointing: SinkCheckpointing = { enabled: false },
  ) {}

  /** The SinkWriterFactory for ChainRunner. */
  readonly create = (ctx: SinkContext): SinkWriter => {
    let writer: FlushableSinkWriter;
    switch (ctx.spec.kind) {
      case 'print':
        writer = new PrintWriter(ctx, this.post);
        break;
      case 'text':
        writer = new TextFileWriter(textSinkFile(ctx.spec.path, ctx.subtaskIndex, ctx.parallelism));
        break;
      case 'collect':
        writer = new CollectWriter(this.post, this.collectBatchRecords);
        this.collectors.push(writer as CollectWriter);
        break;
      case 'files': {
        const restored = this.checkpointing.restored;
        const sink = new TransactionalFileSink({
          dir: ctx.spec.dir,
          subtaskIndex: ctx.subtaskIndex,
          parallelism: ctx.parallelism,
          checkpointing: this.checkpointing.enabled,
          ...(this.checkpointing.filePrefix ? { filePrefix: this.checkpointing.filePrefix } : {}),
          ...(restored === undefined ? {} : { restored: { checkpointId: restored.checkpointId, states: (restored.states[ctx.operatorId] ?? []) as FileSinkState[] } }),
        });
        this.transactional.set(ctx.operatorId, sink);
        writer = sink;
        break;
      }
    }
    this.writers.push(writer);
    return writer;
  };

  flush(): void {
    for (const w of this.writers) w.flush();
  }

  /** Pre-commits the checkpointed sinks; their states by operator id. */
  snapshot(checkpointId: number): Record<string, unknown> {
    // Before the acknowledgement: the JobMaster holds every record of this checkpoint when it completes.
    for (const c of this.collectors) c.barrier(checkpointId);
    const states: Record<string, unknown> = {};
    for (const [id, sink] of this.transactional) states[id] = sink.snapshot(checkpointId);
    return states;
  }

  commit(checkpointId: number): void {
    for (const sink of this.transactional.values()) sink.commit(checkpointId);
  }

  abort(checkpointId: number): void {
    for (const sink of this.transactional.values()) sink.abort(checkpointId);
  }
}

class PrintWriter implements FlushableSinkWriter {
  private text = '';

  constructor(
    private readonly ctx: SinkContext,
    private readonly post: (msg: FromWorker) => void,
  ) {}

  write(record: unknown): void {
    this.text += formatPrintLine(record, this.ctx.subtaskIndex, this.ctx.parallelism) + '\n';
    if (this.text.length >= TEXT_BATCH_CHARS) this.flush();
  }

  flush(): void {
    if (this.text.length === 0) return;
    this.post({ t: 'stdout', text: this.text });
    this.text = '';
  }

  close(): void {
    this.flush();
  }
}

class TextFileWriter implements FlushableSinkWriter {
  private fd: number | undefined;
  private text = '';

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.fd = openSync(path, 'w', 0o600);
  }

  write(record: unknown): void {
    this.text += formatRecord(record) + '\n';
    if (this.text.length >= TEXT_BATCH_CHARS) this.flush();
  }

  flush(): void {
    if (this.text.length === 0 || this.fd === undefined) return;
    writeSync(this.fd, this.text);
    this.text = '';
  }

  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

class CollectWriter implements FlushableSinkWriter {
  private records: unknown[] = [];
  /** The checkpoint whose barrier the buffered records followed (0: none yet). */
  private epoch = 0;

  constructor(
    private readonly post: (msg: FromWorker) => void,
    private readonly batch: number,
  ) {}

  write(record: unknown): void {
    this.records.push(record);
    if (this.records.length >= this.batch) this.flush();
  }

  flush(): void {
    if (this.records.length === 0) return;
    this.post({ t: 'collect', records: this.records, epoch: this.epoch });
    this.records = [];
  }

  /** The barrier of `checkpointId`: what came before it goes out as part of that checkpoint. */
  barrier(checkpointId: number): void {
    this.flush();
    this.epoch = checkpointId;
  }

  close(): void {
    this.flush();
  }
}
