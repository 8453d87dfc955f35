/**
 * Validation of a submitted dataflow. Runs on the client (at `build()`) and again on the
 * Master (the description comes off the wire), and reports the first problem found as an
 * InvalidJobGraphError that names the operator and the problem.
 */
import type { OperatorDescription, StreamGraphDescription } from './description.js';
import { OperatorKind, Partitioner } from './description.js';
import { InvalidJobGraphError } from './errors.js';
import { UPPER_BOUND_MAX_PARALLELISM } from './keygroups.js';

function label(op: OperatorDescription): string {
  return `'${op.id}' (${op.name})`;
}

/**
 * Throws InvalidJobGraphError unless the dataflow can run: unique ids, parallelism within
 * 1..maxParallelism, maxParallelism within 1..32768, edges between known operators, at least
 * one source and one sink, no operator without input (except sources) or without output
 * (except sinks), no cycle, forward edges only between equal parallelism, keyed operators
 * only behind keyBy (hash) edges.
 */
export function validateJobGraph(graph: StreamGraphDescription): void {
  const byId = new Map<string, OperatorDescription>();
  for (const op of graph.operators) {
    if (byId.has(op.id)) throw new InvalidJobGraphError(label(op), `duplicate operator id '${op.id}'`);
    byId.set(op.id, op);
    if (!Number.isInteger(op.maxParallelism) || op.maxParallelism < 1 || op.maxParallelism > UPPER_BOUND_MAX_PARALLELISM) {
      throw new InvalidJobGraphError(label(op), `max parallelism ${op.maxParallelism} is outside 1..${UPPER_BOUND_MAX_PARALLELISM}`);
    }
    if (!Number.isInteger(op.parallelism) || op.parallelism < 1) {
      throw new InvalidJobGraphError(label(op), `parallelism ${op.parallelism} is below 1`);
    }
    if (op.parallelism > op.maxParallelism) {
      throw new InvalidJobGraphError(label(op), `parallelism ${op.parallelism} exceeds its max parallelism ${op.maxParallelism}`);
    }
  }

  const inputs = new Map<string, number>();
  const outputs = new Map<string, number>();
  const pairs = new Set<string>();
  for (const edge of graph.edges) {
    // Channels are named by the two operators' vertices: a second edge between them would share them.
    const pair = JSON.stringify([edge.source, edge.target]);
    if (pairs.has(pair)) throw new InvalidJobGraphError(`'${edge.target}'`, `reads '${edge.source}' twice (union or connect of a stream with itself); map one side first`);
    pairs.add(pair);
    const source = byId.get(edge.source);
    const target = byId.get(edge.target);
    if (source === undefined) throw new InvalidJobGraphError(`'${edge.source}'`, `edge to '${edge.target}' starts at an unknown operator`);
    if (target === undefined) throw new InvalidJobGraphError(`'${edge.target}'`, `edge from '${edge.source}' ends at an unknown operator`);
    if (!Object.values(Partitioner).includes(edge.partitioner)) {
      throw new InvalidJobGraphError(label(target), `unknown partitioner '${String(edge.partitioner)}' on its input from ${label(source)}`);
    }
    if (edge.partitioner === Partitioner.Forward && source.parallelism !== target.parallelism) {
      throw new InvalidJobGraphError(
        label(target),
        `forward input from ${label(source)} changes parallelism ${source.parallelism} -> ${target.parallelism}; use rebalance()`,
      );
    }
    // The broadcast-state pattern: a keyed operator's second input may be a broadcast stream.
    if (target.keyed && edge.partitioner !== Partitioner.Hash && !(edge.input === 2 && edge.partitioner === Partitioner.Broadcast)) {
      throw new InvalidJobGraphError(label(target), `keyed operator reads ${label(source)} through '${edge.partitioner}', not keyBy`);
    }
    inputs.set(target.id, (inputs.get(target.id) ?? 0) + 1);
    outputs.set(source.id, (outputs.get(source.id) ?? 0) + 1);
  }

  let sources = 0;
  let sinks = 0;
  for (const op of graph.operators) {
    const ins = inputs.get(op.id) ?? 0;
    const outs = outputs.get(op.id) ?? 0;
    if (op.kind === OperatorKind.Source) {
      sources++;
      if (ins > 0) throw new InvalidJobGraphError(label(op), 'a source cannot have inputs');
    } else if (ins === 0) {
      throw new InvalidJobGraphError(label(op), 'dangling operator: it has no input');
    }
    if (op.kind === OperatorKind.Sink) {
      sinks++;
      if (outs > 0) throw new InvalidJobGraphError(label(op), 'a sink cannot have outputs');
    } else if (outs === 0) {
      throw new InvalidJobGraphError(label(op), 'dangling operator: its output goes nowhere (add a sink)');
    }
    if (op.keyed && ins === 0) throw new InvalidJobGraphError(label(op), 'keyed operator without a keyBy input');
  }
  if (sources === 0) throw new InvalidJobGraphError(undefined, 'the job has no source');
  if (sinks === 0) throw new InvalidJobGraphError(undefined, 'the job has no sink');

  const cycle = findCycle(graph);
  if (cycle !== undefined) {
    throw new InvalidJobGraphError(label(byId.get(cycle[0] as string) as OperatorDescription), `cycle ${cycle.map((id) => `'${id}'`).join(' -> ')}`);
  }
}

/**
 * The operators in topological order (Kahn's algorithm, ties in listing order so the result is
 * deterministic), or undefined when there is a cycle.
 */
export function topologicalOrder(graph: StreamGraphDescription): string[] | undefined {
  const indegree = new Map<string, number>(graph.operators.map((op) => [op.id, 0]));
  for (const edge of graph.edges) indegree.set(edge.target, (indegree.get(edge.target) ?? 0) + 1);
  const ready = graph.operators.filter((op) => indegree.get(op.id) === 0).map((op) => op.id);
  const order: string[] = [];
  while (ready.length > 0) {
    const id = ready.shift() as string;
    order.push(id);
    for (const edge of graph.edges) {
      if (edge.source !== id) continue;
      const left = (indegree.get(edge.target) ?? 0) - 1;
      indegree.set(edge.target, left);
      if (left === 0) ready.push(edge.target);
    }
  }
  return order.length === graph.operators.length ? order : undefined;
}

/** One cycle as a path of ids that starts and ends at the same operator, if any. */
function findCycle(graph: StreamGraphDescription): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const seen = state.get(id);
    if (seen === 'done') return undefined;
    if (seen === 'visiting') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'visiting');
    path.push(id);
    for (const edge of graph.edges) {
      if (edge.source !== id) continue;
      const found = visit(edge.target);
      if (found !== undefined) return found;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const op of graph.operators) {
    const found = visit(op.id);
    if (found !== undefined) return found;
  }
  return undefined;
}
