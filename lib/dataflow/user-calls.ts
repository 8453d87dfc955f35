/** Calling user functions so that their errors name the operator (UserFunctionError). */
import type { OperatorDescription } from './description.js';
import { UserFunctionError } from './errors.js';

const arrayIterator = Array.prototype[Symbol.iterator];

/** Hands a record (and its event time, or NO_TIMESTAMP) on. */
export type RecordHandler = (record: unknown, timestamp: number) => void;

/** Wraps an error thrown by a user function of `op` (see callUser); for hot paths that catch it themselves. */
export function userError(op: OperatorDescription, err: unknown): unknown {
  // Errors from further down the chain pass through unchanged: they name their own operator.
  if (err instanceof UserFunctionError) return err;
  return new UserFunctionError(op.id, op.name, err);
}

export function callUser<R>(op: OperatorDescription, fn: () => R): R {
  try {
    return fn();
  } catch (err) {
    // Errors from further down the chain pass through unchanged: they name their own operator.
    if (err instanceof UserFunctionError) throw err;
    throw new UserFunctionError(op.id, op.name, err);
  }
}

/** A flatMap: every record of the returned iterable, each with the input's timestamp. */
export function flatMapHandler(d: OperatorDescription, fn: (value: unknown) => Iterable<unknown>, next: RecordHandler): RecordHandler {
  return (record, ts) => {
    let out: Iterable<unknown>;
    try {
      out = fn(record);
    } catch (err) {
      throw userError(d, err);
    }
    if (Array.isArray(out) && out[Symbol.iterator] === arrayIterator) {
      // A plain array: its iterator cannot throw, so index it (the length is read each step, as the iterator does).
      for (let i = 0; i < out.length; i++) next(out[i], ts);
      return;
    }
    // Iterate by hand so that errors from a user generator name this operator, while
    // errors from downstream operators pass through unchanged.
    // (try/catch in place: a closure per step for callUser would be an allocation per record.)
    let it: Iterator<unknown>;
    try {
      it = out[Symbol.iterator]();
    } catch (err) {
      throw userError(d, err);
    }
    for (;;) {
      let step: IteratorResult<unknown>;
      try {
        step = it.next();
      } catch (err) {
        throw userError(d, err);
      }
      if (step.done === true) break;
      next(step.value, ts);
    }
  };
}
