/**
 * From submitted code to a job graph: the Master stores the module by content hash (the
 * TaskExecutors fetch it by that hash), imports it, builds and validates its dataflow, and
 * chains it into a job graph. Any problem is an error with a clear message for the client.
 */
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildStreamGraph, importJobFunction } from '../../lib/dataflow/jobmodule.js';
import { buildJobGraph, type JobGraph } from '../../lib/dataflow/jobgraph.js';
import { RuntimeError } from '../../lib/errors.js';
import { writeFileAtomic } from '../../lib/util/atomic-file.js';
import type { JobConfig } from '../../lib/dataflow/job-config.js';

export interface PreparedGraph {
  codeHash: string;
  jobGraph: JobGraph;
  jobConfig: JobConfig;
  /** The job's name: given at submission, or the module's file name. */
  name: string;
  /** Directories of its transactional file sinks: each must belong to this job alone. */
  sinkDirs: string[];
}

export function newJobId(): string {
  return randomBytes(16).toString('hex');
}

export function codeHashOf(code: Uint8Array): string {
  return createHash('sha256').update(code).digest('hex');
}

/** Store the module under its hash in `dir` and return the file. Atomic: temp file, then rename. */
export async function storeCode(dir: string, code: Uint8Array): Promise<{ hash: string; file: string }> {
  const hash = codeHashOf(code);
  const file = path.join(dir, `${hash}.mjs`);
  await writeFileAtomic(file, code);
  return { hash, file };
}

export async function prepareJob(
  dir: string,
  code: Uint8Array,
  options: { parallelism: number; args: Record<string, unknown>; name?: string },
): Promise<PreparedGraph> {
  if (!(code instanceof Uint8Array) || code.length === 0) {
    throw new RuntimeError('INVALID_JOB_MODULE', 'the submitted job module is empty');
  }
  if (!Number.isInteger(options.parallelism) || options.parallelism < 1) {
    throw new RuntimeError('INVALID_ARGUMENT', `parallelism must be a positive integer, got ${options.parallelism}`);
  }
  const { hash, file } = await storeCode(dir, code);
  const job = await importJobFunction(pathToFileURL(file).href);
  const graph = buildStreamGraph(job, { parallelism: options.parallelism, args: options.args });
  const description = graph.describe();
  const jobGraph = buildJobGraph(description);
  const sinkDirs = description.operators.flatMap((op) => (op.sink?.kind === 'files' ? [op.sink.dir] : []));
  return { codeHash: hash, jobGraph, jobConfig: graph.config, name: options.name ?? 'job', sinkDirs };
}
