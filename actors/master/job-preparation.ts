/**
 * From submitted code to a job graph: the Master checks the module's size, stores it by
 * content hash (the TaskExecutors fetch it by that hash), and has it evaluated in a worker
 * thread (job-sandbox.ts), which builds, validates and chains its dataflow into a job graph.
 * Any problem is an error with a clear message for the client.
 */
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { JobGraph } from '../../lib/dataflow/jobgraph.js';
import { RuntimeError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logging.js';
import { writeFileAtomic } from '../../lib/util/atomic-file.js';
import type { JobConfig } from '../../lib/dataflow/job-config.js';
import { JobBuildError, JobBuildErrorCode } from './errors.js';
import { buildJobInSandbox, type JobBuildLimits } from './job-sandbox.js';

export interface PreparedGraph {
  codeHash: string;
  jobGraph: JobGraph;
  jobConfig: JobConfig;
  /** The job's name: given at submission, or the module's file name. */
  name: string;
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

export interface PrepareOptions {
  parallelism: number;
  args: Record<string, unknown>;
  name?: string;
  /** The file the user submitted, for messages about the module. */
  fileName?: string;
  /** Largest module accepted, in bytes. */
  maxModuleBytes: number;
  /** Why `maxModuleBytes` is what it is, for the message that refuses a larger module. */
  limitReason: string;
  limits: JobBuildLimits;
  log: Logger;
  signal?: AbortSignal;
}

export async function prepareJob(dir: string, code: Uint8Array, options: PrepareOptions): Promise<PreparedGraph> {
  if (!(code instanceof Uint8Array) || code.length === 0) {
    throw new RuntimeError('INVALID_JOB_MODULE', 'the submitted job module is empty');
  }
  if (!Number.isInteger(options.parallelism) || options.parallelism < 1) {
    throw new RuntimeError('INVALID_ARGUMENT', `parallelism must be a positive integer, got ${options.parallelism}`);
  }
  const displayName = displayNameOf(options.fileName);
  // Before any work on it: not stored, not evaluated.
  if (code.length > options.maxModuleBytes) {
    throw new JobBuildError(
      JobBuildErrorCode.ModuleTooLarge,
      `job module ${displayName} is ${code.length} bytes, above the limit of ${options.maxModuleBytes} bytes (${options.limitReason}); ` +
        'make the module smaller: bundle fewer dependencies, and read data in a source at run time rather than embedding it',
      { module: displayName, bytes: code.length, limitBytes: options.maxModuleBytes },
    );
  }
  const { hash, file } = await storeCode(dir, code);
  const built = await buildJobInSandbox(
    { moduleUrl: pathToFileURL(file).href, displayName, parallelism: options.parallelism, args: options.args, log: options.log },
    options.limits,
    options.signal,
  );
  return { codeHash: hash, jobGraph: built.jobGraph, jobConfig: built.jobConfig, name: options.name ?? 'job' };
}

/** The client's file name, if it sent a printable one; it only ever appears in messages. */
function displayNameOf(fileName: string | undefined): string {
  if (typeof fileName !== 'string' || fileName.length === 0 || fileName.length > 512 || /[\u0000-\u001f\u007f]/.test(fileName)) return '(submitted module)';
  return fileName;
}
