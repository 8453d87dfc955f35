/**
 * Channel ids: one channel connects one producer subtask to one consumer subtask over one job
 * edge of one execution attempt. The id names both ends and the attempt, so that buffers and
 * credits of an old attempt can never reach the tasks of a new one (they do not match any
 * registered channel and are dropped), and so that the TaskRunner can route a buffer or a
 * credit from the id alone.
 *
 * Format: `jobId|attempt|producerVertex|producerIndex|consumerVertex|consumerIndex`, each
 * string part percent-encoded so that a `|` in a uid cannot break the parse.
 */
import { executionIdOf } from '../task/descriptor.js';
import { InvalidChannelIdError } from './errors.js';

export interface ChannelId {
  readonly jobId: string;
  readonly attempt: number;
  readonly producerVertexId: string;
  readonly producerIndex: number;
  readonly consumerVertexId: string;
  readonly consumerIndex: number;
}

export function formatChannelId(c: ChannelId): string {
  return [
    encodeURIComponent(c.jobId),
    c.attempt,
    encodeURIComponent(c.producerVertexId),
    c.producerIndex,
    encodeURIComponent(c.consumerVertexId),
    c.consumerIndex,
  ].join('|');
}

function index(id: string, what: string, text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || text === '' || !Number.isSafeInteger(n) || n < 0) throw new InvalidChannelIdError(id, `${what} '${text ?? ''}' is not an integer >= 0`);
  return n;
}

function part(id: string, what: string, text: string | undefined): string {
  if (text === undefined || text === '') throw new InvalidChannelIdError(id, `empty ${what}`);
  try {
    return decodeURIComponent(text);
  } catch {
    throw new InvalidChannelIdError(id, `${what} is not percent-encoded`);
  }
}

/** Parses a channel id; InvalidChannelIdError when malformed. */
export function parseChannelId(id: string): ChannelId {
  const parts = id.split('|');
  if (parts.length !== 6) throw new InvalidChannelIdError(id, `expected 6 parts, got ${parts.length}`);
  return {
    jobId: part(id, 'job id', parts[0]),
    attempt: index(id, 'attempt', parts[1]),
    producerVertexId: part(id, 'producer vertex', parts[2]),
    producerIndex: index(id, 'producer index', parts[3]),
    consumerVertexId: part(id, 'consumer vertex', parts[4]),
    consumerIndex: index(id, 'consumer index', parts[5]),
  };
}

/** The execution id of the producing subtask (where credits go). */
export function producerExecutionId(c: ChannelId): string {
  return executionIdOf(c.jobId, c.attempt, c.producerVertexId, c.producerIndex);
}

/** The execution id of the consuming subtask (where buffers and end-of-partition go). */
export function consumerExecutionId(c: ChannelId): string {
  return executionIdOf(c.jobId, c.attempt, c.consumerVertexId, c.consumerIndex);
}
