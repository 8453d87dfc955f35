/**
 * What a build thread sends back is data from code the user controls (a module can post to
 * the thread's port itself), so the Master treats it like a message off the wire: it checks
 * its shape and size, validates it and chains the job graph itself. Nothing it receives can
 * throw outside these checks or cost more than a bounded amount of work.
 */
import type { EdgeDescription, OperatorDescription, StreamGraphDescription } from '../../lib/dataflow/description.js';
import { DataflowErrorCode } from '../../lib/dataflow/errors.js';
import { validateCheckpointConfig, validateRestartStrategy, type JobConfig } from '../../lib/dataflow/job-config.js';
import { buildJobGraph, type JobGraph } from '../../lib/dataflow/jobgraph.js';
import { RuntimeError } from '../../lib/errors.js';

/** Bounds of a dataflow: validation and chaining cost operators × edges. */
export const MAX_OPERATORS = 1000;
export const MAX_EDGES = 10_000;

export interface BuiltJob {
  jobGraph: JobGraph;
  jobConfig: JobConfig;
  /** The directories of its transactional file sinks, which the job must claim. */
  sinkDirs: string[];
}

/** The job graph and settings of a description received from a build thread; throws INVALID_JOB_MODULE or INVALID_JOB_GRAPH. */
export function jobFromDescription(description: unknown, name: string): BuiltJob {
  const invalid = (problem: string) =>
    new RuntimeError(DataflowErrorCode.InvalidJobModule, `job module ${name}: ${problem}`, { details: { module: name, problem } });
  if (!isRecord(description) || !Array.isArray(description['operators']) || !Array.isArray(description['edges'])) {
    throw invalid('its build thread sent back no dataflow description');
  }
  const { operators, edges, config } = description as { operators: unknown[]; edges: unknown[]; config?: unknown };
  if (operators.length > MAX_OPERATORS) throw invalid(`its dataflow has ${operators.length} operators, more than the ${MAX_OPERATORS} a job may have`);
  if (edges.length > MAX_EDGES) throw invalid(`its dataflow has ${edges.length} edges, more than the ${MAX_EDGES} a job may have`);
  if (!operators.every(isOperator) || !edges.every(isEdge) || !isJobConfig(config)) {
    throw invalid('its build thread sent back a malformed dataflow description');
  }
  const graph: StreamGraphDescription = { operators, edges, config };
  const jobConfig: JobConfig = {
    checkpointing: config.checkpointing === null ? null : validateCheckpointConfig(config.checkpointing),
    restartStrategy: validateRestartStrategy(config.restartStrategy),
  };
  const sinkDirs = operators.flatMap((op) => (op.sink?.kind === 'files' ? [op.sink.dir] : []));
  return { jobGraph: buildJobGraph(graph), jobConfig, sinkDirs };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number';

function isOperator(op: unknown): op is OperatorDescription {
  return (
    isRecord(op) &&
    isString(op['id']) &&
    isString(op['name']) &&
    isString(op['kind']) &&
    isNumber(op['parallelism']) &&
    isNumber(op['maxParallelism']) &&
    isString(op['chaining']) &&
    isString(op['slotSharingGroup']) &&
    typeof op['keyed'] === 'boolean' &&
    (op['source'] === undefined || isRecord(op['source'])) &&
    (op['sink'] === undefined || isRecord(op['sink']))
  );
}

function isEdge(edge: unknown): edge is EdgeDescription {
  return (
    isRecord(edge) &&
    isString(edge['source']) &&
    isString(edge['target']) &&
    isString(edge['partitioner']) &&
    (edge['input'] === undefined || edge['input'] === 2) &&
    (edge['sideOutput'] === undefined || isString(edge['sideOutput']))
  );
}

function isJobConfig(config: unknown): config is JobConfig {
  if (!isRecord(config) || !isRecord(config['restartStrategy']) || !isString(config['restartStrategy']['type'])) return false;
  const checkpointing = config['checkpointing'];
  if (checkpointing === null) return true;
  return isRecord(checkpointing) && ['intervalMs', 'timeoutMs', 'minPauseMs', 'maxConcurrent', 'retained'].every((k) => isNumber(checkpointing[k]));
}
