/**
 * Side outputs (Flink's OutputTag): a function may emit records of another type next to its
 * main output, and `getSideOutput(tag)` reads them as a stream of their own. The tag's id names
 * the side output in the graph, so it must be the same in every process (a string you choose).
 */
import { InvalidJobGraphError } from './errors.js';

export class OutputTag<T> {
  /** Phantom field: keeps `OutputTag<A>` and `OutputTag<B>` apart for the type checker. */
  declare readonly __type?: T;
  constructor(readonly id: string) {
    if (typeof id !== 'string' || id.length === 0) throw new InvalidJobGraphError(undefined, 'an OutputTag needs a non-empty id');
  }
}
