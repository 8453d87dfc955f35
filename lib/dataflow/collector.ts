/**
 * The edges of a chain as the task sees them: where the chain's last operator emits (the
 * task's result partition, or a test's array), and where sinks write (stdout, a file, the
 * client). The dataflow layer only calls these interfaces; the task provides them.
 */
import type { SinkSpec } from './description.js';

/** Receives the records that leave a chain through its last (non-sink) operator. */
export interface Output {
  /** A record and its event time (NO_TIMESTAMP when it has none). */
  emit(record: unknown, timestamp: number): void;
  /** The chain's watermark advanced. */
  emitWatermark?(watermark: number): void;
  /** The chain's output went idle (true) or active again (false). */
  emitStatus?(idle: boolean): void;
  /** A record of the side output `tag` (an OutputTag id). */
  emitSide?(tag: string, record: unknown, timestamp: number): void;
}

/** What a sink writer is for: one sink operator in one subtask. */
export interface SinkContext {
  readonly operatorId: string;
  readonly operatorName: string;
  readonly spec: SinkSpec;
  readonly subtaskIndex: number;
  readonly parallelism: number;
}

/** Receives the records of one sink in one subtask. */
export interface SinkWriter {
  write(record: unknown): void;
  /** End of input: flush and release. Called once by `ChainRunner.finish()`. */
  close?(): void;
}

export type SinkWriterFactory = (ctx: SinkContext) => SinkWriter;

/** An Output that keeps what it receives; for tests and for the collect sink. */
export class ArrayOutput implements Output, SinkWriter {
  readonly records: unknown[] = [];
  emit(record: unknown): void {
    this.records.push(record);
  }
  write(record: unknown): void {
    this.records.push(record);
  }
}
