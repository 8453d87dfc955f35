/**
 * Errors of the dataflow layer (API, job graph, keyed state, chains). Each has a stable `code`
 * that travels on the wire (see lib/errors.ts); callers branch on the code, never on the text.
 */
import { RuntimeError } from '../errors.js';

export const DataflowErrorCode = {
  InvalidJobGraph: 'INVALID_JOB_GRAPH',
  InvalidKey: 'INVALID_KEY',
  KeyGroupOutOfRange: 'KEY_GROUP_OUT_OF_RANGE',
  StateConflict: 'STATE_CONFLICT',
  NoCurrentKey: 'NO_CURRENT_KEY',
  UnknownOperator: 'UNKNOWN_OPERATOR',
  InvalidJobModule: 'INVALID_JOB_MODULE',
  UserFunctionFailed: 'USER_FUNCTION_FAILED',
} as const;
export type DataflowErrorCode = (typeof DataflowErrorCode)[keyof typeof DataflowErrorCode];

/**
 * The dataflow a job built cannot run: names the operator (id or name) and the problem,
 * e.g. `operator 'op-3' (Map): parallelism 0 is below 1`.
 */
export class InvalidJobGraphError extends RuntimeError {
  override name = 'InvalidJobGraphError';
  readonly operator: string | undefined;
  readonly problem: string;
  constructor(operator: string | undefined, problem: string) {
    super(DataflowErrorCode.InvalidJobGraph, operator === undefined ? `invalid job graph: ${problem}` : `invalid job graph: operator ${operator}: ${problem}`, {
      details: operator === undefined ? { problem } : { operator, problem },
    });
    this.operator = operator;
    this.problem = problem;
  }
}

/** A key selector returned a value with no canonical encoding (an object, undefined, null, a function). */
export class InvalidKeyError extends RuntimeError {
  override name = 'InvalidKeyError';
  constructor(problem: string) {
    super(DataflowErrorCode.InvalidKey, `invalid key: ${problem}`, { details: { problem } });
  }
}

/**
 * A record reached a keyed subtask that does not own its key group: the sender partitioned
 * with another max parallelism or parallelism than the receiver. Never silently accepted,
 * because the state written for it would be lost on the next rescale.
 */
export class KeyGroupOutOfRangeError extends RuntimeError {
  override name = 'KeyGroupOutOfRangeError';
  constructor(keyGroup: number, start: number, end: number) {
    super(DataflowErrorCode.KeyGroupOutOfRange, `key group ${keyGroup} is outside this backend's range [${start}, ${end}]`, {
      details: { keyGroup, start, end },
    });
  }
}

/** The same state name was asked for as two kinds of state (value and map). */
export class StateConflictError extends RuntimeError {
  override name = 'StateConflictError';
  constructor(stateName: string, existing: string, requested: string) {
    super(DataflowErrorCode.StateConflict, `state '${stateName}' is a ${existing} state, not a ${requested} state`, {
      details: { stateName, existing, requested },
    });
  }
}

/** Keyed state was touched outside the processing of a keyed record. */
export class NoCurrentKeyError extends RuntimeError {
  override name = 'NoCurrentKeyError';
  constructor(stateName: string) {
    super(DataflowErrorCode.NoCurrentKey, `keyed state '${stateName}' accessed with no current key`, { details: { stateName } });
  }
}

/**
 * An operator id is not in the stream graph: the job module built a different graph in this
 * process than on the Master (it must be deterministic), or the job graph is from another job.
 */
export class UnknownOperatorError extends RuntimeError {
  override name = 'UnknownOperatorError';
  constructor(operatorId: string) {
    super(DataflowErrorCode.UnknownOperator, `no operator '${operatorId}' in the stream graph (is the job module deterministic?)`, {
      details: { operatorId },
    });
  }
}

/** A job module does not default-export a function `(env: StreamEnvironment) => void`. */
export class InvalidJobModuleError extends RuntimeError {
  override name = 'InvalidJobModuleError';
  constructor(module: string, problem: string, cause?: unknown) {
    super(DataflowErrorCode.InvalidJobModule, `job module ${module}: ${problem}`, { details: { module, problem }, cause });
  }
}

/** A user function threw while processing a record; the operator is named, the cause kept. */
export class UserFunctionError extends RuntimeError {
  override name = 'UserFunctionError';
  constructor(operatorId: string, operatorName: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const at = cause instanceof Error ? throwingFrame(cause) : undefined;
    super(DataflowErrorCode.UserFunctionFailed, `user function of operator '${operatorId}' (${operatorName}) failed: ${reason}${at ? ` (at ${at})` : ''}`, {
      details: { operatorId, operatorName },
      cause,
    });
  }
}

/**
 * Where `err` was thrown: the file, line and column of its stack's first frame (task threads
 * map job modules through their source maps, so this is the user's `.ts` file).
 */
function throwingFrame(err: Error): string | undefined {
  const first = String(err.stack ?? '')
    .split('\n')
    .find((line) => line.trimStart().startsWith('at '));
  const found = first === undefined ? null : /\(?((?:file:\/\/)?[^\s():]+):(\d+):(\d+)\)?\s*$/.exec(first);
  if (!found) return undefined;
  const file = found[1]!.startsWith('file://') ? decodeURIComponent(new URL(found[1]!).pathname) : found[1]!;
  return `${file}:${found[2]}:${found[3]}`;
}
