/**
 * The runtime side of a chain: the operators of one job vertex wired into one synchronous
 * pipeline of function calls, for one subtask. A record pushed in (or read from the chain's
 * source) runs through every operator of the chain before `push` returns; records that leave
 * the chain go to the task's Output, sinks write to their SinkWriter.
 *
 * No I/O and no threads here: the task (worker thread) owns the network and the writers and
 * decides when to push, poll and snapshot.
 */
import type { Output, SinkWriter, SinkWriterFactory } from './collector.js';
import type { OperatorDescription } from './description.js';
import { InvalidJobGraphError, UserFunctionError } from './errors.js';
import { flatMapHandler, userError, type RecordHandler } from './user-calls.js';
import type { Collector, KeyedContext } from './functions.js';
import { keyGroupRangeFor } from './keygroups.js';
import type { Key } from './keyhash.js';
import { END_OF_INPUT, type SourceReader, type SplitPositions } from './sources.js';
import { HeapKeyedStateBackend, type KeyGroupSnapshot } from './state.js';
import type { StreamGraph, StreamOperator, SumField } from './streamgraph.js';
import { realClock } from '../util/clock.js';
import { eventTimeHandler, type ChainHandler, type EventTimeParts } from './time-operators.js';
import type { ProcessingTimeService } from './timers.js';
import { MAX_WATERMARK, NO_TIMESTAMP } from './watermarks.js';

/** Processing time on the real clock, callbacks by its timers (tasks pass their own, which reports errors). */
export const realProcessingTime: ProcessingTimeService = {
  now: () => realClock.now(),
  schedule: (at, fn) => {
    const handle = realClock.setTimeout(fn, Math.max(0, at - realClock.now()));
    return () => realClock.clearTimeout(handle);
  },
};

export interface ChainRunnerOptions {
  /** Index of this subtask within the vertex (0-based). */
  readonly subtaskIndex: number;
  /** Receives the records of the chain's last operator, unless it is a sink. */
  readonly output: Output;
  /** Creates the writer of each sink in the chain. */
  readonly sinkWriter: SinkWriterFactory;
  /**
   * Keyed state to restore, by operator id: the key-group snapshots of every old subtask whose
   * range overlaps this one (extra key groups are skipped, so passing all of them is fine).
   */
  readonly restoredState?: Readonly<Record<string, readonly KeyGroupSnapshot[]>>;
  /** For a source chain: records of each split already processed (from a checkpoint; the subtask reads those it owns). */
  readonly sourcePositions?: SplitPositions;
  /**
   * Operator (non-keyed) state to restore, by operator id: the states of ALL old subtasks, in
   * subtask order (a timestamp assigner's watermark, a broadcast state).
   */
  readonly restoredOperatorState?: Readonly<Record<string, readonly unknown[]>>;
  /** Processing time and its callbacks (timers, processing-time windows, idleness). Default: the real clock. */
  readonly processingTime?: ProcessingTimeService;
}

/** The state of one chain in one subtask, as a checkpoint stores it. */
export interface ChainSnapshot {
  /** Key-group snapshots by keyed operator id. */
  readonly keyedState: Readonly<Record<string, KeyGroupSnapshot[]>>;
  /** Source chains only: how far each of the subtask's splits was read. */
  readonly sourcePositions?: SplitPositions;
  /** Operator state by operator id (absent when no operator of the chain has any). */
  readonly operatorState?: Readonly<Record<string, unknown>>;
}

/**
 * One subtask of a job vertex: its operators chained into function calls.
 *
 * @example
 * const runner = ChainRunner.create(graph, vertex.operatorIds, { subtaskIndex: 0, output, sinkWriter });
 * if (runner.isSource) while (runner.pollSource(1000)) {}
 * else for (const record of input) runner.push(record);
 * runner.finish();
 */
export class ChainRunner {
  private readonly backends = new Map<string, HeapKeyedStateBackend>();
  private readonly writers: SinkWriter[] = [];
  private readonly reader: SourceReader<unknown> | undefined;
  private readonly head: ChainHandler;
  private readonly headRecord: RecordHandler;
  private readonly timers: { stop(): void }[] = [];
  private readonly operatorStates = new Map<string, () => unknown>();
  private readonly periodic: (() => void)[] = [];
  private readonly openers: (() => void)[] = [];
  private readonly processingTime: ProcessingTimeService;
  private finished = false;

  private constructor(
    graph: StreamGraph,
    readonly operatorIds: readonly string[],
    private readonly options: ChainRunnerOptions,
  ) {
    const operators = operatorIds.map((id) => graph.operator(id));
    const first = operators[0];
    if (first === undefined) throw new InvalidJobGraphError(undefined, 'a chain needs at least one operator');
    const last = operators[operators.length - 1] as StreamOperator;
    this.processingTime = options.processingTime ?? realProcessingTime;
    const output = options.output;
    // Build back to front: each handler calls the next one directly.
    let next: ChainHandler = {
      record: (record, ts) => output.emit(record, ts),
      watermark: (wm) => output.emitWatermark?.(wm),
      status: (idle) => output.emitStatus?.(idle),
    };
    if (last.logic.kind === 'sink') next = { record: () => undefined, watermark: () => undefined, status: () => undefined };
    for (let i = operators.length - 1; i >= 0; i--) {
      const op = operators[i] as StreamOperator;
      if (op.logic.kind === 'source' && i > 0) throw new InvalidJobGraphError(`'${op.description.id}'`, 'a source can only head a chain');
      if (op.logic.kind === 'sink' && i < operators.length - 1) throw new InvalidJobGraphError(`'${op.description.id}'`, 'a sink can only end a chain');
      next = this.handlerFor(op, next);
    }
    this.head = next;
    this.headRecord = next.record;
    if (first.logic.kind === 'source') {
      const split = { index: options.subtaskIndex, parallelism: first.description.parallelism, splits: first.description.maxParallelism };
      this.reader = first.logic.source.createReader(split, options.sourcePositions);
    }
  }

  /** Wires the chain of `operatorIds` (a job vertex's, in chain order) for one subtask. */
  static create(graph: StreamGraph, operatorIds: readonly string[], options: ChainRunnerOptions): ChainRunner {
    return new ChainRunner(graph, operatorIds, options);
  }

  /** True when the chain starts with a source: drive it with `pollSource`, not `push`. */
  get isSource(): boolean {
    return this.reader !== undefined;
  }

  /** Runs one input record (of the first input) through the chain. */
  push(record: unknown, timestamp: number = NO_TIMESTAMP): void {
    this.headRecord(record, timestamp);
  }

  /** Runs one record of the second input (connect) through the chain's two-input head. */
  push2(record: unknown, timestamp: number = NO_TIMESTAMP): void {
    const record2 = this.head.record2;
    if (record2 === undefined) throw new InvalidJobGraphError(`'${this.operatorIds[0] ?? ''}'`, 'a second input to a chain whose head has one');
    record2(record, timestamp);
  }

  /** True when the chain's head has two inputs (connect). */
  get isTwoInput(): boolean {
    return this.head.record2 !== undefined;
  }

  /** The input's watermark advanced (the minimum over the task's input channels). */
  processWatermark(watermark: number): void {
    this.head.watermark(watermark);
  }

  /** The task's inputs all went idle (true) or one became active again (false). */
  processStatus(idle: boolean): void {
    this.head.status(idle);
  }

  /** Asks every timestamp assigner of the chain for its periodic watermark (the task calls this every autoWatermarkInterval). */
  emitPeriodicWatermarks(): void {
    for (const tick of this.periodic) tick();
  }

  /** True when some operator wants `emitPeriodicWatermarks` calls. */
  get hasPeriodicWatermarks(): boolean {
    return this.periodic.length > 0;
  }

  /** Starts the chain: restored assigners put their watermark out again, before any record. */
  open(): void {
    for (const open of this.openers) open();
  }

  /**
   * Reads up to `maxRecords` records from the chain's source and runs each through the chain.
   * Returns false once the source is exhausted. Bounded so that the task can check for
   * barriers and network credit between batches.
   */
  pollSource(maxRecords: number): boolean {
    const reader = this.reader;
    if (reader === undefined) throw new InvalidJobGraphError(`'${this.operatorIds[0] ?? ''}'`, 'pollSource on a chain without a source');
    const head = this.headRecord;
    for (let i = 0; i < maxRecords; i++) {
      const record = reader.read();
      if (record === END_OF_INPUT) {
        // End of a bounded input: every event-time window and timer can fire (as Flink's MAX_WATERMARK).
        this.head.watermark(MAX_WATERMARK);
        return false;
      }
      head(record, NO_TIMESTAMP);
    }
    return true;
  }

  /** Positions of the source's splits (records read), for checkpoints; undefined without source. */
  sourcePositions(): Record<string, number> | undefined {
    return this.reader?.positions();
  }

  /** The keyed state of every keyed operator and the source position. */
  snapshotState(): ChainSnapshot {
    const operatorState = this.operatorStateSnapshot(); // first: see operatorStateSnapshot
    const keyedState: Record<string, KeyGroupSnapshot[]> = {};
    for (const [id, backend] of this.backends) keyedState[id] = backend.snapshot();
    const positions = this.sourcePositions();
    const snapshot: ChainSnapshot = positions === undefined ? { keyedState } : { keyedState, sourcePositions: positions };
    return operatorState === undefined ? snapshot : { ...snapshot, operatorState };
  }

  /**
   * Operator (non-keyed) state by operator id, or undefined when no operator of the chain has
   * any. Take it BEFORE cutting the keyed backends: an operator may write what it keeps in
   * memory into its keyed state here (the sliced windows do).
   */
  operatorStateSnapshot(): Record<string, unknown> | undefined {
    if (this.operatorStates.size === 0) return undefined;
    const operatorState: Record<string, unknown> = {};
    for (const [id, take] of this.operatorStates) operatorState[id] = take();
    return operatorState;
  }

  /** Every keyed operator's state backend, by operator id (the checkpointer cuts them). */
  keyedBackends(): ReadonlyMap<string, HeapKeyedStateBackend> {
    return this.backends;
  }

  /** The keyed state backend of a keyed operator of this chain (for inspection and tests). */
  stateBackend(operatorId: string): HeapKeyedStateBackend | undefined {
    return this.backends.get(operatorId);
  }

  /** End of input: closes the source reader and the sink writers. Idempotent. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const timers of this.timers) timers.stop();
    this.reader?.close();
    for (const writer of this.writers) writer.close?.();
  }

  private handlerFor(op: StreamOperator, next: ChainHandler): ChainHandler {
    const logic = op.logic;
    const passOn = (record: RecordHandler): ChainHandler => ({ record, watermark: next.watermark, status: next.status });
    switch (logic.kind) {
      case 'source':
        return next;
      case 'map':
      case 'filter':
      case 'flatMap':
      case 'reduce':
      case 'sink':
      case 'process':
        return passOn(this.recordHandlerFor(op, next.record));
      case 'sum':
        return passOn(this.sumHandler(op, logic.field, next.record));
      default:
        return eventTimeHandler(op, next, this.eventTimeParts(op));
    }
  }

  /** What the event-time operators (time-operators.ts) need from the chain. */
  private eventTimeParts(op: StreamOperator): EventTimeParts {
    return {
      processingTime: this.processingTime,
      keyed: (selector) => this.keyed(op, selector),
      addTimers: (timers) => {
        this.timers.push(timers);
      },
      addOperatorState: (take, restore) => {
        this.operatorStates.set(op.description.id, take);
        const restored = this.options.restoredOperatorState?.[op.description.id];
        if (restored !== undefined) restore(restored, this.options.subtaskIndex);
      },
      addPeriodic: (tick) => {
        this.periodic.push(tick);
      },
      addOpener: (open) => {
        this.openers.push(open);
      },
      side: (tag, record, ts) => this.options.output.emitSide?.(tag, record, ts),
    };
  }

  private recordHandlerFor(op: StreamOperator, next: RecordHandler): RecordHandler {
    const d = op.description;
    const logic = op.logic;
    switch (logic.kind) {
      case 'map': {
        return (record, ts) => {
          let out: unknown;
          try {
            out = logic.fn(record);
          } catch (err) {
            throw userError(d, err);
          }
          next(out, ts);
        };
      }
      case 'filter': {
        return (record, ts) => {
          let keep: unknown;
          try {
            keep = logic.fn(record);
          } catch (err) {
            throw userError(d, err);
          }
          if (keep) next(record, ts);
        };
      }
      case 'flatMap': {
        return flatMapHandler(d, logic.fn, next);
      }
      case 'sink': {
        const spec = d.sink ?? { kind: 'collect' };
        const writer = this.options.sinkWriter({ operatorId: d.id, operatorName: d.name, spec, subtaskIndex: this.options.subtaskIndex, parallelism: d.parallelism });
        this.writers.push(writer);
        return (record) => writer.write(record);
      }
      case 'reduce': {
        const { backend, keyOf } = this.keyed(op);
        const acc = backend.getValueState<unknown>('reduce');
        return (record, ts) => {
          backend.setCurrentKey(keyOf(record));
          const current = acc.value();
          let reduced: unknown = record;
          if (current !== undefined) {
            try {
              reduced = logic.fn(current, record);
            } catch (err) {
              throw userError(d, err);
            }
          }
          acc.update(reduced);
          next(reduced, ts);
        };
      }
      case 'process': {
        const { backend, keyOf } = this.keyed(op);
        const ctx: KeyedContext<Key> = {
          get currentKey(): Key {
            return backend.currentKey as Key;
          },
          getValueState: (name) => backend.getValueState(name),
          getMapState: (name) => backend.getMapState(name),
        };
        let timestamp = NO_TIMESTAMP;
        const out: Collector<unknown> = { collect: (record) => next(record, timestamp) };
        return (record, ts) => {
          backend.setCurrentKey(keyOf(record));
          timestamp = ts;
          try {
            logic.fn(record, ctx, out);
          } catch (err) {
            throw userError(d, err);
          }
        };
      }
      default:
        throw new InvalidJobGraphError(`'${d.id}' (${d.name})`, `no record handler for a '${logic.kind}' operator`);
    }
  }

  private sumHandler(op: StreamOperator, field: SumField, next: RecordHandler): RecordHandler {
    const handler = this.sumRecordHandler(op, field);
    return (record, ts) => next(handler(record), ts);
  }

  private sumRecordHandler(op: StreamOperator, field: SumField): (record: unknown) => unknown {
    const d = op.description;
    const { backend, keyOf } = this.keyed(op);
    const acc = backend.getValueState<unknown>('sum');
    switch (field.kind) {
      case 'value':
        return (record) => {
          backend.setCurrentKey(keyOf(record));
          const sum = ((acc.value() as number | undefined) ?? 0) + numeric(d, record, 'record');
          acc.update(sum);
          return sum;
        };
      case 'selector':
        return (record) => {
          const key = keyOf(record);
          backend.setCurrentKey(key);
          let selected: unknown;
          try {
            selected = field.select(record);
          } catch (err) {
            throw userError(d, err);
          }
          const sum = ((acc.value() as number | undefined) ?? 0) + numeric(d, selected, 'selected value');
          acc.update(sum);
          return [key, sum];
        };
      case 'field': {
        // Built once: as an argument it would be a fresh string per record.
        const what = `field ${String(field.field)}`;
        return (record) => {
          backend.setCurrentKey(keyOf(record));
          const current = acc.value();
          const add = numeric(d, readField(d, record, field.field), what);
          // A fresh copy every time: the emitted record may be kept downstream, state must not change under it.
          const updated = current === undefined ? withField(record, field.field, add) : withField(current, field.field, (readField(d, current, field.field) as number) + add);
          acc.update(updated);
          return updated;
        };
      }
    }
  }

  private keyed(op: StreamOperator, which: 1 | 2 = 1): { backend: HeapKeyedStateBackend; keyOf: (record: unknown) => Key } {
    const d = op.description;
    const keySelector = which === 1 ? op.keySelector : op.keySelector2;
    if (keySelector === undefined) throw new InvalidJobGraphError(`'${d.id}' (${d.name})`, 'keyed operator without a keyBy input');
    let backend = this.backends.get(d.id);
    if (backend === undefined) {
      backend = new HeapKeyedStateBackend({
        maxParallelism: d.maxParallelism,
        keyGroupRange: keyGroupRangeFor(d.maxParallelism, d.parallelism, this.options.subtaskIndex),
      });
      const restored = this.options.restoredState?.[d.id];
      if (restored !== undefined) backend.restore(restored);
      this.backends.set(d.id, backend);
    }
    const keyOf = (record: unknown): Key => {
      try {
        return keySelector(record);
      } catch (err) {
        throw userError(d, err);
      }
    };
    return { backend, keyOf };
  }
}

function numeric(op: OperatorDescription, value: unknown, what: string): number {
  if (typeof value !== 'number') throw new UserFunctionError(op.id, op.name, new TypeError(`sum: ${what} is not a number: ${String(value)}`));
  return value;
}

function readField(op: OperatorDescription, record: unknown, field: number | string): unknown {
  if (typeof record !== 'object' || record === null) {
    throw new UserFunctionError(op.id, op.name, new TypeError(`sum: field ${String(field)} of a ${typeof record}`));
  }
  return (record as Record<string | number, unknown>)[field];
}

function withField(record: unknown, field: number | string, value: number): unknown {
  if (Array.isArray(record)) {
    const copy = record.slice();
    copy[field as number] = value;
    return copy;
  }
  return { ...(record as Record<string, unknown>), [field]: value };
}
