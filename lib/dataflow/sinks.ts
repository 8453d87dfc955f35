/**
 * How the built-in sinks present records, kept here so that every task writes the same way
 * (the writers themselves do I/O and belong to the task).
 */
import { join } from 'node:path';

/** Strings as they are, everything else as JSON (a tuple `['a', 3]` prints `["a",3]`). */
export function formatRecord(record: unknown): string {
  if (typeof record === 'string') return record;
  const json = JSON.stringify(record);
  return json === undefined ? String(record) : json;
}

/** Flink's print sink: `<subtask+1>> record` when the sink is parallel, else the record. */
export function formatPrintLine(record: unknown, subtaskIndex: number, parallelism: number): string {
  const text = formatRecord(record);
  return parallelism > 1 ? `${subtaskIndex + 1}> ${text}` : text;
}

/**
 * The file a subtask of `writeAsText(path)` writes, as Flink does: `path` itself when the sink
 * has one subtask, else a directory `path` with one file per subtask named 1, 2, ...
 */
export function textSinkFile(path: string, subtaskIndex: number, parallelism: number): string {
  return parallelism > 1 ? join(path, String(subtaskIndex + 1)) : path;
}
