/**
 * The serializable description of a dataflow: what the client submits and what the Master
 * turns into a job graph. Plain data only (no functions), so it travels as MessagePack and can
 * be stored in the job graph store. The user functions stay in the job module; a task gets
 * them back by evaluating the module again and looking operators up by id.
 */

import type { JobConfig } from './job-config.js';

/** How a record goes from the subtasks of one operator to those of the next. */
export const Partitioner = {
  /** Subtask i sends to subtask i of the next operator (same parallelism); chainable. */
  Forward: 'forward',
  /** Round-robin over all subtasks of the next operator. */
  Rebalance: 'rebalance',
  /** By the key group of the record's key: `keyBy`. */
  Hash: 'hash',
  /** Every record to every subtask of the next operator. */
  Broadcast: 'broadcast',
} as const;
export type Partitioner = (typeof Partitioner)[keyof typeof Partitioner];

/**
 * Flink's ChainingStrategy: `always` chains to the upstream operator when the rules allow,
 * `head` starts a new chain (`startNewChain()`) but lets downstream operators chain to it,
 * `never` (`disableChaining()`) chains to nothing on either side.
 */
export const ChainingStrategy = { Always: 'always', Head: 'head', Never: 'never' } as const;
export type ChainingStrategy = (typeof ChainingStrategy)[keyof typeof ChainingStrategy];

export const OperatorKind = {
  Source: 'source',
  Map: 'map',
  Filter: 'filter',
  FlatMap: 'flatMap',
  Reduce: 'reduce',
  Sum: 'sum',
  Process: 'process',
  Timestamps: 'timestamps',
  Window: 'window',
  CoProcess: 'coProcess',
  Sink: 'sink',
} as const;
export type OperatorKind = (typeof OperatorKind)[keyof typeof OperatorKind];

/** The slot sharing group of operators that set none and whose inputs disagree (Flink's "default"). */
export const DEFAULT_SLOT_SHARING_GROUP = 'default';

/** What a source reads, as plain data (the generator's function stays in the module). */
export type SourceSpec =
  | { readonly kind: 'sequence'; readonly from: number; readonly to: number }
  | { readonly kind: 'collection'; readonly size: number }
  | { readonly kind: 'textFile'; readonly path: string }
  | { readonly kind: 'generator'; readonly count: number | null };

/** Where a sink writes, as plain data. `collect` results go back to the client. */
export type SinkSpec =
  | { readonly kind: 'print' }
  | { readonly kind: 'text'; readonly path: string }
  /** Transactional part files in `dir`, committed on completed checkpoints (exactly-once). */
  | { readonly kind: 'files'; readonly dir: string }
  | { readonly kind: 'collect' };

export interface OperatorDescription {
  /** Deterministic: `op-<n>` in construction order, or the operator's `uid`. */
  readonly id: string;
  readonly name: string;
  readonly kind: OperatorKind;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly chaining: ChainingStrategy;
  readonly slotSharingGroup: string;
  /** True for operators that use keyed state (reduce, sum, process): they need a hash input. */
  readonly keyed: boolean;
  readonly source?: SourceSpec;
  readonly sink?: SinkSpec;
}

export interface EdgeDescription {
  readonly source: string;
  readonly target: string;
  readonly partitioner: Partitioner;
  /** The second input of a two-input operator (connect); absent for the first. */
  readonly input?: 2;
  /** The records of this side output of the source operator (an OutputTag's id), not its main output. */
  readonly sideOutput?: string;
}

/** A dataflow without its functions. Operators are listed in construction order. */
export interface StreamGraphDescription {
  readonly operators: readonly OperatorDescription[];
  readonly edges: readonly EdgeDescription[];
  /** Job-level settings (checkpointing, restarts); absent in hand-made descriptions. */
  readonly config?: JobConfig;
}
