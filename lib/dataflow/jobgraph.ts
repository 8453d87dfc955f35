/**
 * From a stream graph description to a job graph (operators chained into job vertices) and on
 * to the execution graph (the parallel subtasks of each vertex) and the slots it needs.
 *
 * Slots: subtasks of vertices in the same slot sharing group may share a slot, so a group
 * needs as many slots as its most parallel vertex; groups never share, so the job needs the sum
 * over groups. The seed's example (source+map p=2, keyed aggregation p=2, sink p=1, one group)
 * runs 5 subtasks in 2 slots.
 */
import { isChainable } from './chaining.js';
import type { OperatorDescription, Partitioner, StreamGraphDescription } from './description.js';
import { topologicalOrder, validateJobGraph } from './validation.js';

export { validateJobGraph } from './validation.js';

/** An input of a job vertex: where records come from and how they are distributed. */
export interface JobEdge {
  /** The upstream job vertex. */
  readonly source: string;
  /** The downstream job vertex. */
  readonly target: string;
  readonly partitioner: Partitioner;
  /** The stream edge this job edge realises (tail operator of source -> head of target). */
  readonly sourceOperator: string;
  readonly targetOperator: string;
}

/** A chain of operators that runs as one task per parallel subtask. */
export interface JobVertex {
  /** The id of the chain's head operator. */
  readonly id: string;
  /** The operators' names joined by " -> ", e.g. "Source: sequence -> Map". */
  readonly name: string;
  /** In chain order: records enter at the first and leave from the last. */
  readonly operatorIds: readonly string[];
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly slotSharingGroup: string;
  readonly inputs: readonly JobEdge[];
  readonly outputs: readonly JobEdge[];
}

/** Job vertices in topological order. Plain data. */
export interface JobGraph {
  readonly vertices: readonly JobVertex[];
}

/** One parallel instance of a job vertex: what runs in a slot, in a worker thread. */
export interface Subtask {
  readonly vertexId: string;
  readonly index: number;
  readonly parallelism: number;
  /** Flink style: "Map (1/2)". */
  readonly name: string;
}

export interface SlotRequirement {
  /** Slots per slot sharing group: the max parallelism of the group's vertices. */
  readonly byGroup: Readonly<Record<string, number>>;
  readonly total: number;
}

/** Validates (InvalidJobGraphError) and chains the description into a job graph. */
export function buildJobGraph(graph: StreamGraphDescription): JobGraph {
  validateJobGraph(graph);
  const order = topologicalOrder(graph) as string[];
  const byId = new Map(graph.operators.map((op) => [op.id, op]));
  const inputsOf = (id: string) => graph.edges.filter((e) => e.target === id);
  const outputsOf = (id: string) => graph.edges.filter((e) => e.source === id);

  // Walk in topological order: an operator joins its single input's chain when chainable.
  const chainOf = new Map<string, string[]>();
  const chains: string[][] = [];
  for (const id of order) {
    const op = byId.get(id) as OperatorDescription;
    const inputs = inputsOf(id);
    const only = inputs.length === 1 ? inputs[0] : undefined;
    if (only !== undefined) {
      const upstream = byId.get(only.source) as OperatorDescription;
      const ctx = { upstream, downstream: op, downstreamInputs: 1, upstreamOutputs: outputsOf(only.source).length };
      if (isChainable(only, ctx)) {
        const chain = chainOf.get(only.source) as string[];
        chain.push(id);
        chainOf.set(id, chain);
        continue;
      }
    }
    const chain = [id];
    chains.push(chain);
    chainOf.set(id, chain);
  }

  const vertexOf = (operatorId: string) => (chainOf.get(operatorId) as string[])[0] as string;
  const jobEdges = graph.edges
    .filter((e) => vertexOf(e.source) !== vertexOf(e.target))
    .map((e) => ({ source: vertexOf(e.source), target: vertexOf(e.target), partitioner: e.partitioner, sourceOperator: e.source, targetOperator: e.target }));

  const vertices = chains.map((chain): JobVertex => {
    const head = byId.get(chain[0] as string) as OperatorDescription;
    return {
      id: head.id,
      name: chain.map((id) => (byId.get(id) as OperatorDescription).name).join(' -> '),
      operatorIds: chain,
      parallelism: head.parallelism,
      maxParallelism: head.maxParallelism,
      slotSharingGroup: head.slotSharingGroup,
      inputs: jobEdges.filter((e) => e.target === head.id),
      outputs: jobEdges.filter((e) => e.source === head.id),
    };
  });
  return { vertices };
}

/** The execution graph's subtasks: every vertex expanded to its parallel instances. */
export function expandSubtasks(jobGraph: JobGraph): Subtask[] {
  return jobGraph.vertices.flatMap((v) =>
    Array.from({ length: v.parallelism }, (_, index) => ({
      vertexId: v.id,
      index,
      parallelism: v.parallelism,
      name: `${v.name} (${index + 1}/${v.parallelism})`,
    })),
  );
}

/** Slots the job needs with slot sharing: per group the max parallelism, in total the sum. */
export function requiredSlots(jobGraph: JobGraph): SlotRequirement {
  const byGroup: Record<string, number> = {};
  for (const v of jobGraph.vertices) byGroup[v.slotSharingGroup] = Math.max(byGroup[v.slotSharingGroup] ?? 0, v.parallelism);
  return { byGroup, total: Object.values(byGroup).reduce((a, b) => a + b, 0) };
}

/** The vertex with this id (for tasks that receive a job graph and a vertex id). */
export function jobVertex(jobGraph: JobGraph, id: string): JobVertex | undefined {
  return jobGraph.vertices.find((v) => v.id === id);
}
