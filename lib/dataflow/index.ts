/** The dataflow layer: API, graphs, chaining, keyed state and chain execution (pure logic). */
export {
  StreamEnvironment,
  DataStream,
  SingleOutputStream,
  KeyedStream,
  StreamSink,
  WindowedStream,
  ConnectedStreams,
  BroadcastStream,
  BroadcastConnectedStream,
  type StreamEnvironmentOptions,
} from './environment.js';
export {
  WatermarkStrategy,
  BoundedOutOfOrdernessWatermarks,
  WatermarksWithIdleness,
  WatermarkValve,
  NO_TIMESTAMP,
  MIN_WATERMARK,
  MAX_WATERMARK,
  type WatermarkGenerator,
  type WatermarkOutput,
  type WatermarkSink,
  type TimestampAssigner,
  type WatermarkGeneratorFactory,
  type WatermarkGeneratorContext,
} from './watermarks.js';
export {
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
  SlidingEventTimeWindows,
  SlidingProcessingTimeWindows,
  EventTimeSessionWindows,
  ProcessingTimeSessionWindows,
  WindowOperator,
  mergeSessions,
  CountTrigger,
  type Trigger,
  type TriggerContext,
  type OnMergeContext,
  type TriggerResult,
  windowStart,
  maxTimestamp,
  type WindowAssigner,
  type TimeWindow,
  type AggregateFunction,
  type ProcessWindowFunction,
  type ProcessWindowContext,
  type WindowSpec,
  type WindowFunctionSpec,
} from './windows.js';
export { CountEvictor, TimeEvictor, DeltaEvictor, type Evictor, type EvictorContext, type TimestampedValue } from './evictors.js';
export { InternalTimerService, TimerQueue, TimeDomain, type TimerService, type ProcessingTimeService, type FiredTimer } from './timers.js';
export { OutputTag } from './side-outputs.js';
export { JoinedStreams, WindowJoin, IntervalJoin, type IntervalJoinContext } from './joins.js';
export { StreamGraph, type StreamOperator, type StreamEdge, type OperatorLogic, type SumField } from './streamgraph.js';
export {
  Partitioner,
  ChainingStrategy,
  OperatorKind,
  DEFAULT_SLOT_SHARING_GROUP,
  type SourceSpec,
  type SinkSpec,
  type OperatorDescription,
  type EdgeDescription,
  type StreamGraphDescription,
} from './description.js';
export type {
  MapFunction,
  FilterFunction,
  FlatMapFunction,
  ReduceFunction,
  KeySelector,
  Collector,
  KeyedContext,
  KeyedProcessFunction,
  GeneratorFunction,
  ProcessFunction,
  ProcessContext,
  OnTimerContext,
  CoProcessFunction,
  BroadcastProcessFunction,
  BroadcastState,
  ReadOnlyBroadcastState,
  BroadcastContext,
  ReadOnlyBroadcastContext,
} from './functions.js';
export { buildJobGraph, expandSubtasks, requiredSlots, jobVertex, validateJobGraph, type JobGraph, type JobVertex, type JobEdge, type Subtask, type SlotRequirement } from './jobgraph.js';
export { topologicalOrder } from './validation.js';
export { chainBreakReason, isChainable, type ChainingContext } from './chaining.js';
export {
  DEFAULT_MAX_PARALLELISM,
  UPPER_BOUND_MAX_PARALLELISM,
  keyGroupFor,
  operatorIndexForKeyGroup,
  operatorIndexForKey,
  keyGroupRangeFor,
  fullKeyGroupRange,
  keyGroupRangeContains,
  keyGroupRangeSize,
  type KeyGroupRange,
} from './keygroups.js';
export { encodeKey, hashKey, murmur3, type Key } from './keyhash.js';
export { HeapKeyedStateBackend, type ValueState, type MapState, type KeyGroupSnapshot, type StateSnapshot, type HeapKeyedStateBackendOptions } from './state.js';
export { ChainRunner, realProcessingTime, type ChainRunnerOptions, type ChainSnapshot } from './operators.js';
export { ArrayOutput, type Output, type SinkWriter, type SinkContext, type SinkWriterFactory } from './collector.js';
export { createChannelSelector, ALL_CHANNELS, type ChannelSelector, type ChannelSelectorOptions } from './partitioners.js';
export { END_OF_INPUT, type EndOfInput, type SourceReader, type SourceSplit, type SourceFunction } from './sources.js';
export { formatRecord, formatPrintLine, textSinkFile } from './sinks.js';
export { buildStreamGraph, importJobFunction, type JobFunction } from './jobmodule.js';
export * from './errors.js';
