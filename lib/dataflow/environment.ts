/**
 * The DataStream API: a job module builds its dataflow with it, on the Master to get the
 * graph and again in each task to get its functions back. Operator ids are therefore assigned
 * deterministically, `op-<n>` in construction order (or the operator's `uid`), so that the
 * same module yields the same ids in every process.
 *
 * As in Flink, partitioning calls (`keyBy`, `rebalance`, `broadcast`, `forward`) create no
 * operator: they decide how the next operator's input edge distributes records. Settings
 * (`setParallelism`, `name`, `uid`, chaining, slot sharing) apply to the operator that produced
 * a stream, so they are on `SingleOutputStream` and `StreamSink`, not on partitioned streams.
 */
import { ChainingStrategy, DEFAULT_SLOT_SHARING_GROUP, OperatorKind, Partitioner, type SinkSpec } from './description.js';
import type { OperatorDescription, StreamGraphDescription } from './description.js';
import { InvalidJobGraphError } from './errors.js';
import type {
  BroadcastProcessFunction,
  CoProcessFunction,
  FilterFunction,
  FlatMapFunction,
  GeneratorFunction,
  KeyedProcessFunction,
  KeySelector,
  MapFunction,
  ProcessFunction,
  ReduceFunction,
} from './functions.js';
import { IntervalJoin, JoinedStreams } from './joins.js';
import type { OutputTag } from './side-outputs.js';
import type { WatermarkStrategy } from './watermarks.js';
import type { AggregateFunction, ProcessWindowFunction, Trigger, WindowAssigner, WindowFunctionSpec } from './windows.js';
import type { Evictor } from './evictors.js';
import { DEFAULT_MAX_PARALLELISM } from './keygroups.js';
import type { Key } from './keyhash.js';
import { collectionSource, generatorSource, sequenceSource, textFileSource, type SourceFunction } from './sources.js';
import { DEFAULT_AUTO_WATERMARK_INTERVAL_MS, StreamGraph, type OperatorLogic, type StreamEdge, type StreamOperator, type SumField } from './streamgraph.js';
import { validateJobGraph } from './validation.js';
import {
  defaultCheckpointConfig,
  defaultRestartStrategy,
  validateCheckpointConfig,
  validateRestartStrategy,
  type CheckpointConfig,
  type JobConfig,
  type RestartStrategy,
} from './job-config.js';

export interface StreamEnvironmentOptions {
  /** Default parallelism of operators that set none (e.g. from the CLI's `-p`). Default 1. */
  parallelism?: number;
  /** Default number of key groups. Default 128. */
  maxParallelism?: number;
  /** Arguments given at submission (`run JOB --arg k=v`), read by the job as `env.args`. */
  args?: Readonly<Record<string, unknown>>;
}

/** @internal An input of a node under construction; the partitioner is resolved at build time. */
export interface PendingInput {
  readonly node: OperatorNode;
  readonly partitioner: Partitioner | undefined;
  readonly keySelector: ((value: unknown) => Key) | undefined;
  /** The node's side output of this tag id, not its main output. */
  readonly sideOutput?: string;
  /** The second input of a two-input operator. */
  readonly input?: 2;
}

/** Where the records of a stream come from: an operator's main output or one of its side outputs (several after union). */
interface Origin {
  readonly node: OperatorNode;
  readonly sideOutput?: string;
}

/** How the next operator reads a stream: set by keyBy / rebalance / broadcast / forward. */
interface Partitioning {
  readonly partitioner: Partitioner | undefined;
  readonly keySelector: ((value: unknown) => Key) | undefined;
}

const UNPARTITIONED: Partitioning = { partitioner: undefined, keySelector: undefined };

function checkPositiveInteger(what: string, n: number, operator: string | undefined): void {
  if (!Number.isInteger(n) || n < 1) throw new InvalidJobGraphError(operator, `${what} must be an integer >= 1, got ${n}`);
}

/** @internal An operator under construction. Settings may change until `build()`. */
export class OperatorNode {
  uid: string | undefined;
  parallelism: number | undefined;
  maxParallelism: number | undefined;
  chaining: ChainingStrategy = ChainingStrategy.Always;
  slotSharingGroup: string | undefined;
  /** Keyed two-input operators: the key of the second input's records. */
  keySelector2: ((value: unknown) => Key) | undefined;

  constructor(
    readonly index: number,
    readonly kind: OperatorKind,
    public name: string,
    readonly logic: OperatorLogic,
    readonly inputs: readonly PendingInput[],
    readonly keySelector: ((value: unknown) => Key) | undefined,
    readonly sink: SinkSpec | undefined,
  ) {}

  get label(): string {
    return `'${this.uid ?? `op-${this.index}`}' (${this.name})`;
  }

  setParallelism(n: number): void {
    checkPositiveInteger('parallelism', n, this.label);
    this.parallelism = n;
  }

  setMaxParallelism(n: number): void {
    checkPositiveInteger('max parallelism', n, this.label);
    this.maxParallelism = n;
  }

  setUid(uid: string): void {
    if (uid.length === 0) throw new InvalidJobGraphError(this.label, 'uid must not be empty');
    this.uid = uid;
  }

  setSlotSharingGroup(group: string): void {
    if (group.length === 0) throw new InvalidJobGraphError(this.label, 'slot sharing group must not be empty');
    this.slotSharingGroup = group;
  }
}

/**
 * Where a job module builds its dataflow. A job module default-exports
 * `(env: StreamEnvironment) => void`.
 *
 * @example
 * export default (env: StreamEnvironment) => {
 *   env.setParallelism(2);
 *   env.readTextFile('/data/in.txt')
 *     .flatMap((line) => line.split(/\s+/).filter(Boolean))
 *     .keyBy((word) => word)
 *     .sum(() => 1)          // [word, count]
 *     .print().setParallelism(1);
 * };
 */
export class StreamEnvironment {
  private readonly nodes: OperatorNode[] = [];
  private parallelism: number;
  private maxParallelism: number;
  private checkpointing: CheckpointConfig | null = null;
  private restartStrategy: RestartStrategy | null = null;
  private autoWatermarkIntervalMs = DEFAULT_AUTO_WATERMARK_INTERVAL_MS;

  /** Arguments given at submission; the same on the Master and in every task. */
  readonly args: Readonly<Record<string, unknown>>;

  constructor(options: StreamEnvironmentOptions = {}) {
    this.args = options.args ?? {};
    this.parallelism = options.parallelism ?? 1;
    this.maxParallelism = options.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
    checkPositiveInteger('default parallelism', this.parallelism, undefined);
    checkPositiveInteger('default max parallelism', this.maxParallelism, undefined);
  }

  /**
   * Take a checkpoint every `intervalMs` (asynchronous barrier snapshots); with it the job
   * restarts from its latest checkpoint on failures (see `setRestartStrategy`).
   */
  enableCheckpointing(intervalMs: number, options: Partial<Omit<CheckpointConfig, 'intervalMs'>> = {}): this {
    this.checkpointing = validateCheckpointConfig({ ...defaultCheckpointConfig(intervalMs), ...options, intervalMs });
    return this;
  }

  /** How the job restarts after a failure: none, fixed-delay, exponential-delay or failure-rate. */
  setRestartStrategy(strategy: RestartStrategy): this {
    this.restartStrategy = validateRestartStrategy(strategy);
    return this;
  }

  /** The job-level settings, as the JobMaster receives them. */
  jobConfig(): JobConfig {
    return { checkpointing: this.checkpointing, restartStrategy: this.restartStrategy ?? defaultRestartStrategy(this.checkpointing !== null) };
  }

  /**
   * How often (ms) timestamp assigners are asked for a periodic watermark (Flink's
   * autoWatermarkInterval, default 200). 0 turns periodic watermarks off: only generators that
   * emit on events (punctuated) and the end of input advance event time.
   */
  setAutoWatermarkInterval(ms: number): this {
    if (!Number.isFinite(ms) || ms < 0) throw new InvalidJobGraphError(undefined, `auto watermark interval must be a number of milliseconds >= 0, got ${ms}`);
    this.autoWatermarkIntervalMs = ms;
    return this;
  }

  getAutoWatermarkInterval(): number {
    return this.autoWatermarkIntervalMs;
  }

  /** Default parallelism of operators that set none. */
  setParallelism(n: number): this {
    checkPositiveInteger('default parallelism', n, undefined);
    this.parallelism = n;
    return this;
  }

  getParallelism(): number {
    return this.parallelism;
  }

  /** Default number of key groups (the upper bound for rescaling keyed operators). */
  setMaxParallelism(n: number): this {
    checkPositiveInteger('default max parallelism', n, undefined);
    this.maxParallelism = n;
    return this;
  }

  getMaxParallelism(): number {
    return this.maxParallelism;
  }

  /** The numbers from..to inclusive, split into contiguous ranges (as many as the max parallelism) dealt to the subtasks in order. */
  fromSequence(from: number, to: number): SingleOutputStream<number> {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) {
      throw new InvalidJobGraphError(undefined, `fromSequence needs safe integers, got ${from}..${to}`);
    }
    return this.addSource('sequence', sequenceSource(from, to));
  }

  /**
   * The items of a collection, round-robin over the subtasks (item i is in split i mod max
   * parallelism, split k read by subtask k mod parallelism). Like Flink's fromCollection the
   * default parallelism is 1, which keeps the items in order; set it higher to split them.
   */
  fromCollection<T>(items: Iterable<T>): SingleOutputStream<T> {
    const stream = this.addSource('collection', collectionSource([...items]));
    stream.setParallelism(1);
    return stream;
  }

  /** The lines of a UTF-8 text file, read by every subtask; line i is in split i mod max parallelism, as for a collection. */
  readTextFile(path: string): SingleOutputStream<string> {
    return this.addSource('textFile', textFileSource(path));
  }

  /** fn(0), fn(1), ... up to `count` records, or unbounded without `count`; index i is in split i mod max parallelism, as for a collection. */
  fromGenerator<T>(fn: GeneratorFunction<T>, count?: number): SingleOutputStream<T> {
    if (count !== undefined && (!Number.isInteger(count) || count < 0)) {
      throw new InvalidJobGraphError(undefined, `fromGenerator count must be an integer >= 0, got ${count}`);
    }
    return this.addSource('generator', generatorSource(fn, count));
  }

  /**
   * Resolves ids, default parallelism, slot sharing groups and default partitioners, validates
   * the result (InvalidJobGraphError) and returns the graph with its functions.
   */
  build(): StreamGraph {
    const ids = new Map<OperatorNode, string>();
    for (const node of this.nodes) {
      const id = node.uid ?? `op-${node.index}`;
      for (const [other, otherId] of ids) {
        if (otherId === id) throw new InvalidJobGraphError(node.label, `id '${id}' is already used by ${other.label}`);
      }
      ids.set(node, id);
    }
    const descriptions = new Map<OperatorNode, OperatorDescription>();
    const operators: StreamOperator[] = [];
    const edges: StreamEdge[] = [];
    // Nodes are in construction order, so every input is described before its consumers.
    for (const node of this.nodes) {
      const inputs = node.inputs.map((input) => ({ input, upstream: descriptions.get(input.node) as OperatorDescription }));
      // A timestamp assigner runs beside its input (Flink's default), so that it chains to it.
      const inherited = node.kind === OperatorKind.Timestamps && inputs.length === 1 ? inputs[0]?.upstream.parallelism : undefined;
      const parallelism = node.parallelism ?? inherited ?? this.parallelism;
      const description: OperatorDescription = {
        id: ids.get(node) as string,
        name: node.name,
        kind: node.kind,
        parallelism,
        maxParallelism: node.maxParallelism ?? this.maxParallelism,
        chaining: node.chaining,
        slotSharingGroup: node.slotSharingGroup ?? inheritedSlotSharingGroup(inputs.map((i) => i.upstream.slotSharingGroup)),
        keyed: node.keySelector !== undefined,
        ...(node.logic.kind === 'source' ? { source: node.logic.source.spec } : {}),
        ...(node.sink === undefined ? {} : { sink: node.sink }),
      };
      descriptions.set(node, description);
      operators.push({
        description,
        logic: node.logic,
        ...(node.keySelector === undefined ? {} : { keySelector: node.keySelector }),
        ...(node.keySelector2 === undefined ? {} : { keySelector2: node.keySelector2 }),
      });
      for (const { input, upstream } of inputs) {
        const partitioner = input.partitioner ?? (upstream.parallelism === parallelism ? Partitioner.Forward : Partitioner.Rebalance);
        edges.push({
          source: upstream.id,
          target: description.id,
          partitioner,
          ...(input.input === undefined ? {} : { input: input.input }),
          ...(input.sideOutput === undefined ? {} : { sideOutput: input.sideOutput }),
          ...(input.keySelector === undefined ? {} : { keySelector: input.keySelector }),
        });
      }
    }
    const graph = new StreamGraph(operators, edges, this.jobConfig(), { autoWatermarkIntervalMs: this.autoWatermarkIntervalMs });
    validateJobGraph(graph.describe());
    return graph;
  }

  /** The description only; same as `build().describe()`. */
  describe(): StreamGraphDescription {
    return this.build().describe();
  }

  /** @internal Adds an operator; used by the stream classes. */
  addOperator(
    kind: OperatorKind,
    name: string,
    logic: OperatorLogic,
    inputs: readonly PendingInput[],
    keySelector?: (value: unknown) => Key,
    sink?: SinkSpec,
  ): OperatorNode {
    const node = new OperatorNode(this.nodes.length, kind, name, logic, inputs, keySelector, sink);
    this.nodes.push(node);
    return node;
  }

  private addSource<T>(what: string, source: SourceFunction<T>): SingleOutputStream<T> {
    const node = this.addOperator(OperatorKind.Source, `Source: ${what}`, { kind: 'source', source: source as SourceFunction<unknown> }, []);
    return new SingleOutputStream<T>(this, node, UNPARTITIONED);
  }
}

/** Flink's rule: the group of the inputs when they all agree, else the default group. */
function inheritedSlotSharingGroup(inputGroups: readonly string[]): string {
  const first = inputGroups[0];
  if (first === undefined) return DEFAULT_SLOT_SHARING_GROUP;
  return inputGroups.every((g) => g === first) ? first : DEFAULT_SLOT_SHARING_GROUP;
}

/**
 * A stream of records of type T. Transformations return new streams and add operators to the
 * environment; nothing runs until the graph is submitted.
 */
export class DataStream<T> {
  /** @internal */
  constructor(
    protected readonly env: StreamEnvironment,
    protected readonly node: OperatorNode,
    protected readonly partitioning: Partitioning,
    /** @internal Where the records come from (several after `union`). */
    readonly origins: readonly Origin[] = [{ node }],
  ) {}

  /** The records as `fn` transforms them, one for one. */
  map<O>(fn: MapFunction<T, O>): SingleOutputStream<O> {
    return this.transform<O>(OperatorKind.Map, 'Map', { kind: 'map', fn: fn as MapFunction<unknown, unknown> });
  }

  /** The records for which `fn` returns true. */
  filter(fn: FilterFunction<T>): SingleOutputStream<T> {
    return this.transform<T>(OperatorKind.Filter, 'Filter', { kind: 'filter', fn: fn as FilterFunction<unknown> });
  }

  /** Every record of the iterable that `fn` returns for each input record. */
  flatMap<O>(fn: FlatMapFunction<T, O>): SingleOutputStream<O> {
    return this.transform<O>(OperatorKind.FlatMap, 'Flat Map', { kind: 'flatMap', fn: fn as FlatMapFunction<unknown, unknown> });
  }

  /** Partitions by key: records with the same key go to the same subtask (by key group). */
  keyBy<K extends Key>(keySelector: KeySelector<T, K>): KeyedStream<T, K> {
    return new KeyedStream<T, K>(this.env, this.node, { partitioner: Partitioner.Hash, keySelector: keySelector as (value: unknown) => Key }, this.origins);
  }

  /** Round-robin to all subtasks of the next operator (breaks chains). */
  rebalance(): DataStream<T> {
    return new DataStream<T>(this.env, this.node, { partitioner: Partitioner.Rebalance, keySelector: undefined }, this.origins);
  }

  /** Every record to every subtask of the next operator. */
  broadcast(): DataStream<T>;
  /**
   * The broadcast-state pattern: a stream whose records every subtask of the connected
   * operator sees, to update the broadcast state named `stateNames` (read by the other input).
   * `keyed.connect(rules.broadcast('rules')).process({ processElement, processBroadcastElement })`.
   */
  broadcast(...stateNames: [string, ...string[]]): BroadcastStream<T>;
  broadcast(...stateNames: string[]): DataStream<T> | BroadcastStream<T> {
    const stream = new DataStream<T>(this.env, this.node, { partitioner: Partitioner.Broadcast, keySelector: undefined }, this.origins);
    return stateNames.length === 0 ? stream : new BroadcastStream<T>(stream);
  }

  /** Subtask i to subtask i of the next operator; parallelism must be equal. */
  forward(): DataStream<T> {
    return new DataStream<T>(this.env, this.node, { partitioner: Partitioner.Forward, keySelector: undefined }, this.origins);
  }

  /**
   * Gives each record a timestamp and puts watermarks into the stream (event time). Chained to
   * its input, usually right after the source.
   */
  assignTimestampsAndWatermarks(strategy: WatermarkStrategy<T>): SingleOutputStream<T> {
    return this.transform<T>(OperatorKind.Timestamps, 'Timestamps/Watermarks', { kind: 'timestamps', strategy: strategy as WatermarkStrategy<unknown> });
  }

  /**
   * A process function `{ processElement(value, ctx, out) }`: may emit any number of records
   * and side outputs (`ctx.output(tag, value)`). Timers and keyed state need `keyBy` first.
   */
  process<O>(fn: ProcessFunction<T, never, O>): SingleOutputStream<O> {
    return this.transform<O>(OperatorKind.Process, 'Process', { kind: 'processWithTimers', fn: fn as unknown as ProcessFunction<unknown, Key, unknown>, keyed: false });
  }

  /** A window join: `a.join(b).where(ka).equalTo(kb).window(assigner).apply((x, y) => ...)`. */
  join<B>(other: DataStream<B>): JoinedStreams<T, B> {
    return new JoinedStreams<T, B>(this as DataStream<unknown>, other as DataStream<unknown>);
  }

  /** The records of this stream and of `others` as one stream (of the same type). */
  union(...others: DataStream<T>[]): DataStream<T> {
    for (const o of others) {
      if (o.partitioning.partitioner !== this.partitioning.partitioner) {
        throw new InvalidJobGraphError(undefined, 'union of streams partitioned differently: partition (keyBy, rebalance...) after union');
      }
    }
    return new DataStream<T>(this.env, this.node, this.partitioning, [...this.origins, ...others.flatMap((o) => o.origins)]);
  }

  /**
   * Two streams, possibly of different types, into one operator with a function per input:
   * `a.connect(b).map(fa, fb)`, `.flatMap(fa, fb)`, `.process({ processElement1, processElement2 })`.
   * With a BroadcastStream: the broadcast-state pattern (`.process({ processElement, processBroadcastElement })`).
   */
  connect<B>(other: BroadcastStream<B>): BroadcastConnectedStream<T, B, never>;
  connect<B>(other: DataStream<B>): ConnectedStreams<T, B, never>;
  connect<B>(other: DataStream<B> | BroadcastStream<B>): ConnectedStreams<T, B, never> | BroadcastConnectedStream<T, B, never> {
    if (other instanceof BroadcastStream) return new BroadcastConnectedStream<T, B, never>(this.env, this.inputs(), other.stream.inputs(), false);
    return new ConnectedStreams<T, B, never>(this.env, this, other);
  }

  /** Prints every record on the task's stdout (`i> record` when the sink is parallel). */
  print(): StreamSink {
    return this.sink('print', { kind: 'print' });
  }

  /** Writes records as lines; one file per subtask. */
  writeAsText(path: string): StreamSink {
    return this.sink('text', { kind: 'text', path });
  }

  /**
   * Writes records as lines into part files in `dir`, exactly once: with checkpointing, a
   * subtask's files become visible (`part-<jobId>-<subtask>-<epoch>`) only when a checkpoint that covers
   * them completes; without, when the input ends. The output is the concatenation of the
   * `part-*` files. Use one directory per sink: a directory belongs to one job at a time (in
   * HA mode a second job that targets it while its owner runs is refused at submission).
   */
  writeToFiles(dir: string): StreamSink {
    return this.sink('files', { kind: 'files', dir });
  }

  /**
   * Sends the records back to the client that submitted the job, in its result, exactly once:
   * with checkpointing, records are released when a checkpoint after them completes (restarts
   * neither lose nor repeat any); a job that finishes releases the rest. A job that fails or is
   * canceled returns only what checkpoints covered. At most `maxCollectedRecords` are kept, and
   * a Master failover (HA) loses what the old leader had collected of a running job.
   */
  collect(): StreamSink {
    return this.sink('collect', { kind: 'collect' });
  }

  /** @internal */
  protected transform<O>(kind: OperatorKind, name: string, logic: OperatorLogic, keyed = false): SingleOutputStream<O> {
    const node = this.env.addOperator(kind, name, logic, this.inputs(), keyed ? this.partitioning.keySelector : undefined);
    return new SingleOutputStream<O>(this.env, node, UNPARTITIONED);
  }

  private sink(what: string, spec: SinkSpec): StreamSink {
    const node = this.env.addOperator(OperatorKind.Sink, `Sink: ${what}`, { kind: 'sink' }, this.inputs(), undefined, spec);
    return new StreamSink(node);
  }

  /** @internal The inputs an operator on this stream reads (one per origin). */
  inputs(input?: 2): PendingInput[] {
    return this.origins.map((o) => ({
      node: o.node,
      partitioner: this.partitioning.partitioner,
      keySelector: this.partitioning.keySelector,
      ...(o.sideOutput === undefined ? {} : { sideOutput: o.sideOutput }),
      ...(input === undefined ? {} : { input }),
    }));
  }

  /** @internal The key selector of a keyed stream. */
  get keySelectorOf(): ((value: unknown) => Key) | undefined {
    return this.partitioning.keySelector;
  }
}

/** The output of one operator: a stream whose operator can still be configured. */
export class SingleOutputStream<T> extends DataStream<T> {
  /** The records this operator emitted to side output `tag` (ctx.output, late window data). */
  getSideOutput<X>(tag: OutputTag<X>): DataStream<X> {
    return new DataStream<X>(this.env, this.node, UNPARTITIONED, [{ node: this.node, sideOutput: tag.id }]);
  }

  /** Parallelism of this operator (overrides the environment's default). */
  setParallelism(n: number): this {
    this.node.setParallelism(n);
    return this;
  }

  /** Number of key groups of this operator, if keyed. */
  setMaxParallelism(n: number): this {
    this.node.setMaxParallelism(n);
    return this;
  }

  /** Display name, used in job vertex names ("Source: sequence -> Map"). */
  name(name: string): this {
    this.node.name = name;
    return this;
  }

  /** A stable id that replaces the generated `op-<n>` (keeps state mapping across job versions). */
  uid(uid: string): this {
    this.node.setUid(uid);
    return this;
  }

  /** Begins a new chain at this operator; later operators may still chain to it. */
  startNewChain(): this {
    this.node.chaining = ChainingStrategy.Head;
    return this;
  }

  /** Chains this operator to nothing, neither upstream nor downstream. */
  disableChaining(): this {
    this.node.chaining = ChainingStrategy.Never;
    return this;
  }

  /** Subtasks of operators in the same group may share a slot; groups never share. */
  slotSharingGroup(group: string): this {
    this.node.setSlotSharingGroup(group);
    return this;
  }
}

/**
 * A stream partitioned by key. Operators on it may use keyed state, scoped to the key of the
 * record being processed. Non-keyed transformations (map...) are allowed and read the stream
 * hash-partitioned.
 */
export class KeyedStream<T, K extends Key> extends DataStream<T> {
  /** A running reduce per key: emits the new aggregate after each record. */
  reduce(fn: ReduceFunction<T>): SingleOutputStream<T> {
    return this.transform<T>(OperatorKind.Reduce, 'Keyed Reduce', { kind: 'reduce', fn: fn as ReduceFunction<unknown> }, true);
  }

  /** A running sum of the numbers per key. */
  sum(this: KeyedStream<number, K>): SingleOutputStream<number>;
  /** A running sum of what `selector` returns per key, emitted as `[key, sum]`. */
  sum(selector: (value: T) => number): SingleOutputStream<[K, number]>;
  /**
   * A running sum of a numeric tuple index or field per key; emits the key's first record
   * with that field replaced by the sum (as Flink's sum aggregation).
   */
  sum(field: number | string): SingleOutputStream<T>;
  sum(fieldOrSelector?: number | string | ((value: T) => number)): SingleOutputStream<unknown> {
    const field: SumField =
      fieldOrSelector === undefined
        ? { kind: 'value' }
        : typeof fieldOrSelector === 'function'
          ? { kind: 'selector', select: fieldOrSelector as (value: unknown) => number }
          : { kind: 'field', field: fieldOrSelector };
    return this.transform<unknown>(OperatorKind.Sum, 'Keyed Aggregation', { kind: 'sum', field }, true);
  }

  /**
   * A keyed process function: `(value, ctx, out)`, with value and map state per key; or
   * `{ processElement(value, ctx, out), onTimer(timestamp, ctx, out) }`, which also has timers
   * (`ctx.timerService()`), the record's timestamp and side outputs.
   */
  override process<O>(fn: KeyedProcessFunction<T, K, O> | ProcessFunction<T, K, O>): SingleOutputStream<O> {
    if (typeof fn === 'function') {
      return this.transform<O>(OperatorKind.Process, 'KeyedProcess', { kind: 'process', fn: fn as unknown as KeyedProcessFunction<unknown, Key, unknown> }, true);
    }
    return this.transform<O>(OperatorKind.Process, 'KeyedProcess', { kind: 'processWithTimers', fn: fn as unknown as ProcessFunction<unknown, Key, unknown>, keyed: true }, true);
  }

  /** An interval join with another stream keyed alike: `.between(lowerMs, upperMs).process((a, b, ctx, out) => ...)`. */
  intervalJoin<B>(other: KeyedStream<B, K>): IntervalJoin<T, B, K> {
    return new IntervalJoin<T, B, K>(this as KeyedStream<unknown, K>, other as KeyedStream<unknown, K>);
  }

  /** With a broadcast stream: the keyed broadcast-state pattern (keyed state and timers in processElement). */
  override connect<B>(other: BroadcastStream<B>): BroadcastConnectedStream<T, B, K>;
  /** With another keyed stream: a keyed co-process (state and timers per key, both sides keyed alike). */
  override connect<B>(other: DataStream<B>): ConnectedStreams<T, B, K>;
  override connect<B>(other: DataStream<B> | BroadcastStream<B>): ConnectedStreams<T, B, K> | BroadcastConnectedStream<T, B, K> {
    if (other instanceof BroadcastStream) return new BroadcastConnectedStream<T, B, K>(this.env, this.inputs(), other.stream.inputs(), true);
    return new ConnectedStreams<T, B, K>(this.env, this, other);
  }

  /** Windows per key: `keyBy(...).window(TumblingEventTimeWindows.of(60_000)).reduce(...)`. */
  window(assigner: WindowAssigner): WindowedStream<T, K> {
    return new WindowedStream<T, K>(this, assigner);
  }

  /** @internal */
  keyedTransform<O>(kind: OperatorKind, name: string, logic: OperatorLogic): SingleOutputStream<O> {
    return this.transform<O>(kind, name, logic, true);
  }
}

/**
 * A keyed stream cut into windows. Configure lateness and late data first, then end it with
 * `reduce`, `aggregate` or `process`.
 */
export class WindowedStream<T, K extends Key> {
  private allowedLatenessMs = 0;
  private lateTag: string | undefined;
  private customTrigger: Trigger | undefined;
  private windowEvictor: Evictor | undefined;

  /** @internal */
  constructor(
    private readonly keyed: KeyedStream<T, K>,
    private readonly assigner: WindowAssigner,
  ) {}

  /** Keeps windows `ms` past their end (event time): late records within it fire the window again. */
  allowedLateness(ms: number): this {
    if (!Number.isFinite(ms) || ms < 0) throw new InvalidJobGraphError(undefined, `allowed lateness must be a number of milliseconds >= 0, got ${ms}`);
    this.allowedLatenessMs = ms;
    return this;
  }

  /** When windows emit, instead of at their end (e.g. `CountTrigger.of(100)`); on session windows a merging one (with `onMerge`). */
  trigger(trigger: Trigger): this {
    if (this.assigner.kind === 'session' && typeof trigger.onMerge !== 'function') {
      throw new InvalidJobGraphError(undefined, 'a trigger on session windows must merge: give it onMerge(mergedFrom, ctx), which takes over the state of the sessions merged into ctx.window (CountTrigger does)');
    }
    this.customTrigger = trigger;
    return this;
  }

  /**
   * Removes records from a window before and/or after its function runs (`CountEvictor.of(n)`,
   * `TimeEvictor.of(ms)`, `DeltaEvictor.of(threshold, fn)`, or your own). The window then keeps
   * every record: a reduce or aggregate runs over them when it fires, not as they arrive.
   */
  evictor(evictor: Evictor): this {
    if (typeof evictor.evictBefore !== 'function' && typeof evictor.evictAfter !== 'function') {
      throw new InvalidJobGraphError(undefined, 'an evictor needs evictBefore(records, ctx) or evictAfter(records, ctx), returning the records to keep');
    }
    this.windowEvictor = evictor;
    return this;
  }

  /** Records too late for any window go to this side output instead of being dropped. */
  sideOutputLateData(tag: OutputTag<T>): this {
    this.lateTag = tag.id;
    return this;
  }

  /** Combines a window's records pairwise; with `process`, it gets the result and the window. */
  reduce<O = T>(fn: ReduceFunction<T>, process?: ProcessWindowFunction<T, O, K>): SingleOutputStream<O> {
    return this.build<O>({ kind: 'reduce', reduce: fn as (a: unknown, b: unknown) => unknown, ...(process ? { process: process as unknown as ProcessWindowFunction<unknown, unknown, Key> } : {}) });
  }

  /** An accumulator per window (add, merge for sessions, getResult); with `process`, it gets the result and the window. */
  aggregate<A, R, O = R>(fn: AggregateFunction<T, A, R>, process?: ProcessWindowFunction<R, O, K>): SingleOutputStream<O> {
    if (this.assigner.kind === 'session' && typeof fn.merge !== 'function') {
      throw new InvalidJobGraphError(undefined, 'session windows merge: give the AggregateFunction a merge(a, b) of two accumulators');
    }
    return this.build<O>({
      kind: 'aggregate',
      aggregate: fn as unknown as AggregateFunction<unknown, unknown, unknown>,
      ...(process ? { process: process as unknown as ProcessWindowFunction<unknown, unknown, Key> } : {}),
    });
  }

  /** All of a window's records at once, with the window (start, end) and the key. */
  process<O>(fn: ProcessWindowFunction<T, O, K>): SingleOutputStream<O> {
    return this.build<O>({ kind: 'process', process: fn as unknown as ProcessWindowFunction<unknown, unknown, Key> });
  }

  private build<O>(fn: WindowFunctionSpec): SingleOutputStream<O> {
    const a = this.assigner;
    const spec = {
      assigner: a,
      allowedLatenessMs: this.allowedLatenessMs,
      fn,
      ...(this.lateTag === undefined ? {} : { lateTag: this.lateTag }),
      ...(this.customTrigger === undefined ? {} : { trigger: this.customTrigger }),
      ...(this.windowEvictor === undefined ? {} : { evictor: this.windowEvictor }),
    };
    const name = `Window(${a.kind}, ${a.eventTime ? 'event' : 'processing'} time)`;
    return this.keyed.keyedTransform<O>(OperatorKind.Window, name, { kind: 'window', spec });
  }
}

/** Two streams with a function per input; keyed once both are keyed (`keyBy(k1, k2)`, or two keyed streams). */
export class ConnectedStreams<A, B, K extends Key> {
  /** @internal */
  constructor(
    private readonly env: StreamEnvironment,
    private readonly first: DataStream<A>,
    private readonly second: DataStream<B>,
  ) {}

  /** Both inputs partitioned by key, so that a co-process function has keyed state and timers. */
  keyBy<NK extends Key>(key1: KeySelector<A, NK>, key2: KeySelector<B, NK>): ConnectedStreams<A, B, NK> {
    return new ConnectedStreams<A, B, NK>(this.env, this.first.keyBy(key1), this.second.keyBy(key2));
  }

  map<O>(fn1: MapFunction<A, O>, fn2: MapFunction<B, O>): SingleOutputStream<O> {
    return this.add<O>('Co-Map', { kind: 'coMap', fn1: fn1 as MapFunction<unknown, unknown>, fn2: fn2 as MapFunction<unknown, unknown> }, false);
  }

  flatMap<O>(fn1: FlatMapFunction<A, O>, fn2: FlatMapFunction<B, O>): SingleOutputStream<O> {
    return this.add<O>('Co-Flat Map', { kind: 'coFlatMap', fn1: fn1 as FlatMapFunction<unknown, unknown>, fn2: fn2 as FlatMapFunction<unknown, unknown> }, false);
  }

  /** `{ processElement1, processElement2, onTimer? }`; keyed state and timers when both inputs are keyed. */
  process<O>(fn: CoProcessFunction<A, B, K, O>): SingleOutputStream<O> {
    const keyed = this.isKeyed();
    return this.add<O>(keyed ? 'KeyedCoProcess' : 'CoProcess', { kind: 'coProcess', fn: fn as unknown as CoProcessFunction<unknown, unknown, Key, unknown>, keyed }, keyed);
  }

  private isKeyed(): boolean {
    const k1 = this.first.keySelectorOf !== undefined;
    const k2 = this.second.keySelectorOf !== undefined;
    if (k1 !== k2) throw new InvalidJobGraphError(undefined, 'connect: key both inputs or neither (connect(...).keyBy(key1, key2))');
    return k1;
  }

  private add<O>(name: string, logic: OperatorLogic, keyed: boolean): SingleOutputStream<O> {
    const node = this.env.addOperator(OperatorKind.CoProcess, name, logic, [...this.first.inputs(), ...this.second.inputs(2)], keyed ? this.first.keySelectorOf : undefined);
    if (keyed) node.keySelector2 = this.second.keySelectorOf;
    return new SingleOutputStream<O>(this.env, node, UNPARTITIONED);
  }
}

/** A stream of records for the broadcast state (see `DataStream.broadcast(name)`). */
export class BroadcastStream<T> {
  /** @internal */
  constructor(readonly stream: DataStream<T>) {}
}

/** A stream (keyed or not) connected with a broadcast stream. */
export class BroadcastConnectedStream<T, B, K extends Key> {
  /** @internal */
  constructor(
    private readonly env: StreamEnvironment,
    private readonly first: PendingInput[],
    private readonly broadcastInputs: PendingInput[],
    private readonly keyed: boolean,
  ) {}

  /** `{ processElement(value, ctx, out), processBroadcastElement(value, ctx, out), onTimer? }`. */
  process<O>(fn: BroadcastProcessFunction<T, B, K, O>): SingleOutputStream<O> {
    const keySelector = this.keyed ? this.first[0]?.keySelector : undefined;
    const node = this.env.addOperator(
      OperatorKind.CoProcess,
      this.keyed ? 'KeyedBroadcastProcess' : 'BroadcastProcess',
      { kind: 'broadcastProcess', fn: fn as unknown as BroadcastProcessFunction<unknown, unknown, Key, unknown>, keyed: this.keyed },
      [...this.first, ...this.broadcastInputs.map((i) => ({ ...i, input: 2 as const }))],
      keySelector,
    );
    return new SingleOutputStream<O>(this.env, node, UNPARTITIONED);
  }
}

/** A sink: configurable like an operator, but ends the stream. */
export class StreamSink {
  /** @internal */
  constructor(private readonly node: OperatorNode) {}

  setParallelism(n: number): this {
    this.node.setParallelism(n);
    return this;
  }

  name(name: string): this {
    this.node.name = name;
    return this;
  }

  uid(uid: string): this {
    this.node.setUid(uid);
    return this;
  }

  startNewChain(): this {
    this.node.chaining = ChainingStrategy.Head;
    return this;
  }

  disableChaining(): this {
    this.node.chaining = ChainingStrategy.Never;
    return this;
  }

  slotSharingGroup(group: string): this {
    this.node.setSlotSharingGroup(group);
    return this;
  }
}
