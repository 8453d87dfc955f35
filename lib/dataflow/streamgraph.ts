/**
 * The stream graph: the dataflow a job module built, with its user functions. It exists in
 * two places: on the Master, where only its `describe()` is used, and in each task's worker
 * thread, where the task looks up the functions of its chain by operator id.
 */
import type { EdgeDescription, OperatorDescription, StreamGraphDescription } from './description.js';
import { UnknownOperatorError } from './errors.js';
import type {
  BroadcastProcessFunction,
  CoProcessFunction,
  FilterFunction,
  FlatMapFunction,
  KeyedProcessFunction,
  MapFunction,
  ProcessFunction,
  ReduceFunction,
} from './functions.js';
import type { WatermarkStrategy } from './watermarks.js';
import type { WindowSpec } from './windows.js';
import type { Key } from './keyhash.js';
import type { SourceFunction } from './sources.js';
import type { JobConfig } from './job-config.js';

/** What `sum` adds up: the record itself, a tuple index or field name, or a selected number. */
export type SumField = { readonly kind: 'value' } | { readonly kind: 'field'; readonly field: number | string } | { readonly kind: 'selector'; readonly select: (value: unknown) => number };

/** The user logic of one operator, discriminated like the operator's kind. */
export type OperatorLogic =
  | { readonly kind: 'source'; readonly source: SourceFunction<unknown> }
  | { readonly kind: 'map'; readonly fn: MapFunction<unknown, unknown> }
  | { readonly kind: 'filter'; readonly fn: FilterFunction<unknown> }
  | { readonly kind: 'flatMap'; readonly fn: FlatMapFunction<unknown, unknown> }
  | { readonly kind: 'reduce'; readonly fn: ReduceFunction<unknown> }
  | { readonly kind: 'sum'; readonly field: SumField }
  | { readonly kind: 'process'; readonly fn: KeyedProcessFunction<unknown, Key, unknown> }
  /** A process function with timers (object form), keyed or not. */
  | { readonly kind: 'processWithTimers'; readonly fn: ProcessFunction<unknown, Key, unknown>; readonly keyed: boolean }
  | { readonly kind: 'timestamps'; readonly strategy: WatermarkStrategy<unknown> }
  | { readonly kind: 'window'; readonly spec: WindowSpec }
  /** Two inputs (connect): `fn1` for the first, `fn2` for the second. */
  | { readonly kind: 'coMap'; readonly fn1: MapFunction<unknown, unknown>; readonly fn2: MapFunction<unknown, unknown> }
  | { readonly kind: 'coFlatMap'; readonly fn1: FlatMapFunction<unknown, unknown>; readonly fn2: FlatMapFunction<unknown, unknown> }
  | { readonly kind: 'coProcess'; readonly fn: CoProcessFunction<unknown, unknown, Key, unknown>; readonly keyed: boolean }
  /** A stream (keyed or not) connected with a broadcast stream whose records update the broadcast state. */
  | { readonly kind: 'broadcastProcess'; readonly fn: BroadcastProcessFunction<unknown, unknown, Key, unknown>; readonly keyed: boolean }
  | { readonly kind: 'sink' };

/** An operator with its functions. */
export interface StreamOperator {
  readonly description: OperatorDescription;
  readonly logic: OperatorLogic;
  /** Keyed operators only: the key of a record, for state access. */
  readonly keySelector?: (value: unknown) => Key;
  /** Keyed two-input operators: the key of a record of the second input. */
  readonly keySelector2?: (value: unknown) => Key;
}

/** Task-side settings of a graph that the Master does not need. */
export interface StreamGraphSettings {
  /** How often timestamp assigners are asked for a periodic watermark (Flink's autoWatermarkInterval). */
  readonly autoWatermarkIntervalMs: number;
}

export const DEFAULT_AUTO_WATERMARK_INTERVAL_MS = 200;

/** An edge with its functions: hash edges carry the key selector the sender partitions by. */
export interface StreamEdge extends EdgeDescription {
  readonly keySelector?: (value: unknown) => Key;
}

/**
 * A built dataflow. Immutable once built.
 *
 * @example
 * const graph = env.build();
 * const plain = graph.describe();            // to the Master
 * const op = graph.operator(vertex.operatorIds[0]); // in a task
 */
export class StreamGraph {
  private readonly byId: ReadonlyMap<string, StreamOperator>;

  constructor(
    readonly operators: readonly StreamOperator[],
    readonly edges: readonly StreamEdge[],
    /** Checkpointing and restart settings of the job. */
    readonly config: JobConfig = { checkpointing: null, restartStrategy: { type: 'none' } },
    readonly settings: StreamGraphSettings = { autoWatermarkIntervalMs: DEFAULT_AUTO_WATERMARK_INTERVAL_MS },
  ) {
    this.byId = new Map(operators.map((op) => [op.description.id, op]));
  }

  /** The operator with this id, or UnknownOperatorError (the module built another graph). */
  operator(id: string): StreamOperator {
    const op = this.byId.get(id);
    if (op === undefined) throw new UnknownOperatorError(id);
    return op;
  }

  inputsOf(id: string): StreamEdge[] {
    return this.edges.filter((e) => e.target === id);
  }

  outputsOf(id: string): StreamEdge[] {
    return this.edges.filter((e) => e.source === id);
  }

  /** The plain, serializable description: no functions. */
  describe(): StreamGraphDescription {
    return {
      operators: this.operators.map((op) => ({ ...op.description })),
      edges: this.edges.map(({ source, target, partitioner, input, sideOutput }) => ({
        source,
        target,
        partitioner,
        ...(input === undefined ? {} : { input }),
        ...(sideOutput === undefined ? {} : { sideOutput }),
      })),
      config: this.config,
    };
  }
}
