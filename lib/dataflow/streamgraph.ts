/**
 * The stream graph: the dataflow a job module built, with its user functions. It exists in
 * two places: on the Master, where only its `describe()` is used, and in each task's worker
 * thread, where the task looks up the functions of its chain by operator id.
 */
import type { EdgeDescription, OperatorDescription, StreamGraphDescription } from './description.js';
import { UnknownOperatorError } from './errors.js';
import type { FilterFunction, FlatMapFunction, KeyedProcessFunction, MapFunction, ReduceFunction } from './functions.js';
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
  | { readonly kind: 'sink' };

/** An operator with its functions. */
export interface StreamOperator {
  readonly description: OperatorDescription;
  readonly logic: OperatorLogic;
  /** Keyed operators only: the key of a record, for state access. */
  readonly keySelector?: (value: unknown) => Key;
}

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
      edges: this.edges.map(({ source, target, partitioner }) => ({ source, target, partitioner })),
      config: this.config,
    };
  }
}
