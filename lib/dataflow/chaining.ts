/**
 * Operator chaining, Flink's rules (StreamingJobGraphGenerator#isChainable): an operator joins
 * its upstream operator's task when records can be handed over by a plain function call,
 * i.e. when nothing would be gained by a network exchange between them.
 *
 * One deliberate difference: our chains are linear (a chain is a list of operator ids), so an
 * operator whose output fans out to several operators ends its chain. Flink builds chain trees
 * instead; a linear chain keeps a task to one input and one output path.
 */
import { ChainingStrategy, Partitioner, type EdgeDescription, type OperatorDescription } from './description.js';

/** What a chain decision needs to know about the graph around an edge. */
export interface ChainingContext {
  readonly upstream: OperatorDescription;
  readonly downstream: OperatorDescription;
  /** Number of input edges of the downstream operator. */
  readonly downstreamInputs: number;
  /** Number of output edges of the upstream operator. */
  readonly upstreamOutputs: number;
}

/**
 * Why an edge cannot be chained, or undefined when it can. The reasons exist for people
 * (the web UI, a test, a log line), not for code to branch on.
 */
export function chainBreakReason(edge: EdgeDescription, ctx: ChainingContext): string | undefined {
  const { upstream, downstream } = ctx;
  if (edge.partitioner !== Partitioner.Forward) return `partitioner is '${edge.partitioner}'`;
  if (edge.sideOutput !== undefined) return `side output '${edge.sideOutput}'`;
  if (upstream.parallelism !== downstream.parallelism) return `parallelism differs (${upstream.parallelism} vs ${downstream.parallelism})`;
  if (ctx.downstreamInputs !== 1) return `downstream has ${ctx.downstreamInputs} inputs`;
  if (ctx.upstreamOutputs !== 1) return `upstream has ${ctx.upstreamOutputs} outputs`;
  if (upstream.chaining === ChainingStrategy.Never) return 'upstream has chaining disabled';
  if (downstream.chaining === ChainingStrategy.Never) return 'downstream has chaining disabled';
  if (downstream.chaining === ChainingStrategy.Head) return 'downstream starts a new chain';
  if (upstream.slotSharingGroup !== downstream.slotSharingGroup) return 'slot sharing groups differ';
  return undefined;
}

export function isChainable(edge: EdgeDescription, ctx: ChainingContext): boolean {
  return chainBreakReason(edge, ctx) === undefined;
}
