/**
 * From a job graph and a placement of its subtasks to the deployment descriptors of every
 * subtask. The JobMaster uses it to deploy a job; tests use it to deploy without actors.
 *
 * Forward edges are pointwise: subtask i of the producer feeds subtask i of the consumer only,
 * so each descriptor lists that one peer. All other partitioners connect all to all.
 */
import { Partitioner } from '../dataflow/description.js';
import type { JobEdge, JobGraph, JobVertex } from '../dataflow/jobgraph.js';
import { executionIdOf, type ChannelPeer, type TaskDeploymentDescriptor, type TaskLocation, type TaskRestore } from './descriptor.js';
import { InvalidDeploymentError } from './errors.js';

export interface DeploymentOptions {
  readonly jobId: string;
  readonly jobName: string;
  /** The execution attempt (bumped on every restart of the job). */
  readonly attempt: number;
  /** Where the job module is on the TaskExecutor ('' when each TaskExecutor fills in its own copy). */
  readonly jobModulePath: string;
  readonly jobArgs: Record<string, unknown>;
  /** The default parallelism the job graph was built with. */
  readonly defaultParallelism: number;
  /** The TaskExecutor (and its data address) that runs a subtask. Called once per subtask. */
  readonly placement: (vertexId: string, subtaskIndex: number) => TaskLocation;
  /** Checkpoint storage directory, or null when the job does not checkpoint. */
  readonly checkpointDir?: string | null;
  /** What a subtask restores from, if anything (a checkpoint or savepoint). */
  readonly restoreFor?: (vertexId: string, subtaskIndex: number) => TaskRestore | undefined;
  /** False: tasks write full checkpoints (default: incremental). */
  readonly incrementalCheckpoints?: boolean;
}

/**
 * One descriptor per subtask, vertices in the job graph's (topological) order.
 *
 * @example
 * const tdds = buildDeploymentDescriptors(jobGraph, {
 *   jobId, jobName: 'wordcount', attempt: 0, jobModulePath, jobArgs: {}, defaultParallelism: 2,
 *   placement: (vertexId, i) => (i % 2 === 0 ? teA : teB),
 * });
 */
export function buildDeploymentDescriptors(jobGraph: JobGraph, options: DeploymentOptions): TaskDeploymentDescriptor[] {
  const byId = new Map<string, JobVertex>(jobGraph.vertices.map((v) => [v.id, v]));
  const locations = new Map<string, TaskLocation[]>();
  for (const v of jobGraph.vertices) {
    locations.set(
      v.id,
      Array.from({ length: v.parallelism }, (_, i) => options.placement(v.id, i)),
    );
  }
  const peers = (edge: JobEdge, vertexId: string, myIndex: number): ChannelPeer[] => {
    const other = byId.get(vertexId);
    const where = locations.get(vertexId);
    if (other === undefined || where === undefined) throw new InvalidDeploymentError(options.jobId, `edge ${edge.source} -> ${edge.target} names an unknown vertex '${vertexId}'`);
    if (edge.partitioner === Partitioner.Forward) return [{ subtaskIndex: myIndex, location: where[myIndex] as TaskLocation }];
    return where.map((location, subtaskIndex) => ({ subtaskIndex, location }));
  };
  return jobGraph.vertices.flatMap((v) =>
    Array.from({ length: v.parallelism }, (_, subtaskIndex): TaskDeploymentDescriptor => {
      const restore = options.restoreFor?.(v.id, subtaskIndex);
      return {
      jobId: options.jobId,
      jobName: options.jobName,
      attempt: options.attempt,
      vertexId: v.id,
      vertexName: v.name,
      subtaskIndex,
      parallelism: v.parallelism,
      maxParallelism: v.maxParallelism,
      executionId: executionIdOf(options.jobId, options.attempt, v.id, subtaskIndex),
      jobModulePath: options.jobModulePath,
      jobArgs: options.jobArgs,
      defaultParallelism: options.defaultParallelism,
      inputs: v.inputs.map((e) => ({ sourceVertexId: e.source, partitioner: e.partitioner, producers: peers(e, e.source, subtaskIndex) })),
      outputs: v.outputs.map((e) => ({ targetVertexId: e.target, partitioner: e.partitioner, consumers: peers(e, e.target, subtaskIndex) })),
      checkpointDir: options.checkpointDir ?? null,
      ...(restore ? { restore } : {}),
      ...(options.incrementalCheckpoints === false ? { incrementalCheckpoints: false } : {}),
      };
    }),
  );
}
