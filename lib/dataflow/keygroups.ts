/**
 * Key groups, as in Flink (KeyGroupRangeAssignment): keyed state is split into
 * `maxParallelism` key groups, the atomic unit of state redistribution. A key belongs to
 * exactly one key group (a stable hash modulo maxParallelism), and each parallel instance of
 * a keyed operator owns one contiguous range of key groups. Rescaling a job reassigns whole
 * key groups, never single keys, so state is restored by reading a few contiguous ranges.
 */
import { ErrorCode, RuntimeError } from '../errors.js';
import { hashKey } from './keyhash.js';

/** Flink's default number of key groups when nothing else is set. */
export const DEFAULT_MAX_PARALLELISM = 128;
/** Flink's upper bound for the max parallelism (2^15). */
export const UPPER_BOUND_MAX_PARALLELISM = 32768;

/** An inclusive range of key groups; empty when `end < start` (more subtasks than key groups). */
export interface KeyGroupRange {
  readonly start: number;
  readonly end: number;
}

function checkMaxParallelism(maxParallelism: number): void {
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > UPPER_BOUND_MAX_PARALLELISM) {
    throw new RuntimeError(ErrorCode.InvalidArgument, `max parallelism must be an integer in 1..${UPPER_BOUND_MAX_PARALLELISM}, got ${maxParallelism}`);
  }
}

function checkParallelism(maxParallelism: number, parallelism: number): void {
  checkMaxParallelism(maxParallelism);
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > maxParallelism) {
    throw new RuntimeError(ErrorCode.InvalidArgument, `parallelism must be an integer in 1..${maxParallelism} (the max parallelism), got ${parallelism}`);
  }
}

/** The key group of a key: its stable hash modulo the max parallelism. */
export function keyGroupFor(key: unknown, maxParallelism: number): number {
  return keyGroupOfHash(hashKey(key), maxParallelism);
}

/**
 * The key group of a key's uint32 hash (keyhash.ts): `hash % maxParallelism`, exactly, in
 * small-integer arithmetic. A hash of 2^31 or more is a double in V8, whose `%` is a
 * floating-point modulo (a third of a short string key's channel choice). Halving it keeps
 * every step an int32.
 */
export function keyGroupOfHash(hash: number, m: number): number {
  return (((hash >>> 1) % m) * 2 + (hash & 1)) % m;
}

/** The operator index that owns a key group: floor(keyGroup * parallelism / maxParallelism). */
export function operatorIndexForKeyGroup(maxParallelism: number, parallelism: number, keyGroup: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

/** The operator index that owns a key, i.e. the channel a hash partitioner sends it to. */
export function operatorIndexForKey(key: unknown, maxParallelism: number, parallelism: number): number {
  return operatorIndexForKeyGroup(maxParallelism, parallelism, keyGroupFor(key, maxParallelism));
}

/**
 * The key groups an operator index owns, computed as Flink does so that the range is exactly
 * the set of key groups that `operatorIndexForKeyGroup` maps to that index:
 * start = ceil(index * maxP / p), end = floor(((index + 1) * maxP - 1) / p).
 */
export function keyGroupRangeFor(maxParallelism: number, parallelism: number, index: number): KeyGroupRange {
  checkParallelism(maxParallelism, parallelism);
  if (!Number.isInteger(index) || index < 0 || index >= parallelism) {
    throw new RuntimeError(ErrorCode.InvalidArgument, `operator index must be an integer in 0..${parallelism - 1}, got ${index}`);
  }
  const start = Math.floor((index * maxParallelism + parallelism - 1) / parallelism);
  const end = Math.floor(((index + 1) * maxParallelism - 1) / parallelism);
  return { start, end };
}

/** The whole key-group space of a max parallelism, e.g. for a non-parallel keyed operator. */
export function fullKeyGroupRange(maxParallelism: number): KeyGroupRange {
  checkMaxParallelism(maxParallelism);
  return { start: 0, end: maxParallelism - 1 };
}

export function keyGroupRangeContains(range: KeyGroupRange, keyGroup: number): boolean {
  return keyGroup >= range.start && keyGroup <= range.end;
}

export function keyGroupRangeSize(range: KeyGroupRange): number {
  return Math.max(0, range.end - range.start + 1);
}
