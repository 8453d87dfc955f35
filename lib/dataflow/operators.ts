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
import type { Collector, KeyedContext } from './functions.js';
import { keyGroupRangeFor } from './keygroups.js';
import type { Key } from './keyhash.js';
import { END_OF_INPUT, type SourceReader, type SplitPositions } from './sources.js';
import { HeapKeyedStateBackend, type KeyGroupSnapshot } from './state.js';
import type { StreamGraph, StreamOperator, SumField } from './streamgraph.js';

const arrayIterator = Array.prototype[Symbol.iterator];

/** Hands a record to the rest of the chain. */
type RecordHandler = (record: unknown) => void;

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
}

/** The state of one chain in one subtask, as a checkpoint stores it. */
export interface ChainSnapshot {
  /** Key-group snapshots by keyed operator id. */
  readonly keyedState: Readonly<Record<string, KeyGroupSnapshot[]>>;
  /** Source chains only: how far each of the subtask's splits was read. */
  readonly sourcePositions?: SplitPositions;
}

/** Wraps an error thrown by a user function of `op` (see callUser); for hot paths that catch it themselves. */
function userError(op: OperatorDescription, err: unknown): unknown {
  // Errors from further down the chain pass through unchanged: they name their own operator.
  if (err instanceof UserFunctionError) return err;
  return new UserFunctionError(op.id, op.name, err);
}

function callUser<R>(op: OperatorDescription, fn: () => R): R {
  try {
    return fn();
  } catch (err) {
    // Errors from further down the chain pass through unchanged: they name their own operator.
    if (err instanceof UserFunctionError) throw err;
    throw new UserFunctionError(op.id, op.name, err);
  }
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
  private readonly head: RecordHandler;
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
    // Build back to front: each handler calls the next one directly.
    let next: RecordHandler = (record) => options.output.emit(record);
    if (last.logic.kind === 'sink') next = () => undefined;
    for (let i = operators.length - 1; i >= 0; i--) {
      const op = operators[i] as StreamOperator;
      if (op.logic.kind === 'source' && i > 0) throw new InvalidJobGraphError(`'${op.description.id}'`, 'a source can only head a chain');
      if (op.logic.kind === 'sink' && i < operators.length - 1) throw new InvalidJobGraphError(`'${op.description.id}'`, 'a sink can only end a chain');
      next = this.handlerFor(op, next);
    }
    this.head = next;
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

  /** Runs one input record through the chain. */
  push(record: unknown): void {
    this.head(record);
  }

  /**
   * Reads up to `maxRecords` records from the chain's source and runs each through the chain.
   * Returns false once the source is exhausted. Bounded so that the task can check for
   * barriers and network credit between batches.
   */
  pollSource(maxRecords: number): boolean {
    const reader = this.reader;
    if (reader === undefined) throw new InvalidJobGraphError(`'${this.operatorIds[0] ?? ''}'`, 'pollSource on a chain without a source');
    for (let i = 0; i < maxRecords; i++) {
      const record = reader.read();
      if (record === END_OF_INPUT) return false;
      this.head(record);
    }
    return true;
  }

  /** Positions of the source's splits (records read), for checkpoints; undefined without source. */
  sourcePositions(): Record<string, number> | undefined {
    return this.reader?.positions();
  }

  /** The keyed state of every keyed operator and the source position. */
  snapshotState(): ChainSnapshot {
    const keyedState: Record<string, KeyGroupSnapshot[]> = {};
    for (const [id, backend] of this.backends) keyedState[id] = backend.snapshot();
    const positions = this.sourcePositions();
    return positions === undefined ? { keyedState } : { keyedState, sourcePositions: positions };
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
    this.reader?.close();
    for (const writer of this.writers) writer.close?.();
  }

  private handlerFor(op: StreamOperator, next: RecordHandler): RecordHandler {
    const d = op.description;
    const logic = op.logic;
    switch (logic.kind) {
      case 'source':
        return next;
      case 'map': {
        return (record) => {
          let out: unknown;
          try {
            out = logic.fn(record);
          } catch (err) {
            throw userError(d, err);
          }
          next(out);
        };
      }
      case 'filter': {
        return (record) => {
          let keep: unknown;
          try {
            keep = logic.fn(record);
          } catch (err) {
            throw userError(d, err);
          }
          if (keep) next(record);
        };
      }
      case 'flatMap': {
        return (record) => {
          let out: Iterable<unknown>;
          try {
            out = logic.fn(record);
          } catch (err) {
            throw userError(d, err);
          }
          if (Array.isArray(out) && out[Symbol.iterator] === arrayIterator) {
            // A plain array: its iterator cannot throw, so index it (the length is read each step, as the iterator does).
            for (let i = 0; i < out.length; i++) next(out[i]);
            return;
          }
          // Iterate by hand so that errors from a user generator name this operator, while
          // errors from downstream operators pass through unchanged.
          const it = callUser(d, () => out[Symbol.iterator]());
          for (;;) {
            const step = callUser(d, () => it.next());
            if (step.done === true) break;
            next(step.value);
          }
        };
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
        return (record) => {
          backend.setCurrentKey(keyOf(record));
          const current = acc.value();
          const reduced = current === undefined ? record : callUser(d, () => logic.fn(current, record));
          acc.update(reduced);
          next(reduced);
        };
      }
      case 'sum':
        return this.sumHandler(op, logic.field, next);
      case 'process': {
        const { backend, keyOf } = this.keyed(op);
        const ctx: KeyedContext<Key> = {
          get currentKey(): Key {
            return backend.currentKey as Key;
          },
          getValueState: (name) => backend.getValueState(name),
          getMapState: (name) => backend.getMapState(name),
        };
        const out: Collector<unknown> = { collect: (record) => next(record) };
        return (record) => {
          backend.setCurrentKey(keyOf(record));
          callUser(d, () => logic.fn(record, ctx, out));
        };
      }
    }
  }

  private sumHandler(op: StreamOperator, field: SumField, next: RecordHandler): RecordHandler {
    const d = op.description;
    const { backend, keyOf } = this.keyed(op);
    const acc = backend.getValueState<unknown>('sum');
    switch (field.kind) {
      case 'value':
        return (record) => {
          backend.setCurrentKey(keyOf(record));
          const sum = ((acc.value() as number | undefined) ?? 0) + numeric(d, record, 'record');
          acc.update(sum);
          next(sum);
        };
      case 'selector':
        return (record) => {
          const key = keyOf(record);
          backend.setCurrentKey(key);
          const sum = ((acc.value() as number | undefined) ?? 0) + numeric(d, callUser(d, () => field.select(record)), 'selected value');
          acc.update(sum);
          next([key, sum]);
        };
      case 'field':
        return (record) => {
          backend.setCurrentKey(keyOf(record));
          const current = acc.value();
          const add = numeric(d, readField(d, record, field.field), `field ${String(field.field)}`);
          // A fresh copy every time: the emitted record may be kept downstream, state must not change under it.
          const updated = current === undefined ? withField(record, field.field, add) : withField(current, field.field, (readField(d, current, field.field) as number) + add);
          acc.update(updated);
          next(updated);
        };
    }
  }

  private keyed(op: StreamOperator): { backend: HeapKeyedStateBackend; keyOf: (record: unknown) => Key } {
    const d = op.description;
    const keySelector = op.keySelector;
    if (keySelector === undefined) throw new InvalidJobGraphError(`'${d.id}' (${d.name})`, 'keyed operator without a keyBy input');
    const backend = new HeapKeyedStateBackend({
      maxParallelism: d.maxParallelism,
      keyGroupRange: keyGroupRangeFor(d.maxParallelism, d.parallelism, this.options.subtaskIndex),
    });
    const restored = this.options.restoredState?.[d.id];
    if (restored !== undefined) backend.restore(restored);
    this.backends.set(d.id, backend);
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
