/**
 * From submitted code to a job graph: the Master checks the module's size and has it
 * evaluated in a worker thread (job-sandbox.ts), which builds, validates and chains its
 * dataflow into a job graph. The module is identified by its content hash (the TaskExecutors
 * fetch it by that hash) and written nowhere by the Master: the thread imports it from a
 * `data:` URL, so a rejected module leaves nothing behind. Any problem is an error with a
 * clear message for the client.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { JobGraph } from '../../lib/dataflow/jobgraph.js';
import { RuntimeError } from '../../lib/errors.js';
import { MAX_VALUE_BYTES } from '../../lib/ha/codec.js';
import type { Logger } from '../../lib/logging.js';
import type { JobConfig } from '../../lib/dataflow/job-config.js';
import { JobBuildError, JobBuildErrorCode } from './errors.js';
import { BuildGate } from './build-gate.js';
import { buildJobInSandbox, cancelled, type JobBuildLimits } from './job-sandbox.js';

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

/** Room left in a job's HA record for everything but its module (the job graph, mostly). */
const HA_RECORD_HEADROOM_BYTES = 128 * 1024;

export interface ModuleLimit {
  /** Largest module accepted, in bytes. */
  bytes: number;
  /** Why it is what it is, for the message that refuses a larger module. */
  reason: string;
}

/** The configured bound, and with HA never more than a job's record in etcd can hold. */
export function moduleLimit(configuredBytes: number, ha: boolean): ModuleLimit {
  const haBytes = MAX_VALUE_BYTES - HA_RECORD_HEADROOM_BYTES;
  if (ha && haBytes < configuredBytes) return { bytes: haBytes, reason: 'what the HA store holds per job, less room for its job graph' };
  return { bytes: configuredBytes, reason: 'jobModuleMaxBytes' };
}

export interface PrepareOptions {
  parallelism: number;
  args: Record<string, unknown>;
  name?: string;
  /** The file the user submitted, for messages about the module. */
  fileName?: string;
  moduleLimit: ModuleLimit;
  limits: JobBuildLimits;
  log: Logger;
  signal?: AbortSignal;
}

/** Builds of this process, one at a time (build-gate.ts); two more may wait. */
const builds = new BuildGate(2);

export async function prepareJob(code: Uint8Array, options: PrepareOptions): Promise<PreparedGraph> {
  if (!(code instanceof Uint8Array) || code.length === 0) {
    throw new RuntimeError('INVALID_JOB_MODULE', 'the submitted job module is empty');
  }
  if (!Number.isInteger(options.parallelism) || options.parallelism < 1) {
    throw new RuntimeError('INVALID_ARGUMENT', `parallelism must be a positive integer, got ${options.parallelism}`);
  }
  const displayName = displayNameOf(options.fileName);
  // Before any work on it: not evaluated.
  const limit = options.moduleLimit;
  if (code.length > limit.bytes) {
    throw new JobBuildError(
      JobBuildErrorCode.ModuleTooLarge,
      `job module ${displayName} is ${code.length} bytes, above the limit of ${limit.bytes} bytes (${limit.reason}); ` +
        'make the module smaller: bundle fewer dependencies, and read data in a source at run time rather than embedding it',
      { module: displayName, bytes: code.length, limitBytes: limit.bytes },
    );
  }
  const hash = codeHashOf(code);
  const moduleUrl = `data:text/javascript;base64,${Buffer.from(code.buffer, code.byteOffset, code.byteLength).toString('base64')}`;
  const build = { moduleUrl, displayName, parallelism: options.parallelism, args: options.args, log: options.log };
  const built = await builds.run(displayName, () => buildJobInSandbox(build, options.limits, options.signal), options.signal, () => cancelled(displayName));
  return { codeHash: hash, jobGraph: built.jobGraph, jobConfig: built.jobConfig, name: options.name ?? 'job', sinkDirs: built.sinkDirs };
}

/** The client's file name, if it sent a printable one; it only ever appears in messages. */
function displayNameOf(fileName: string | undefined): string {
  if (typeof fileName !== 'string' || fileName.length === 0 || fileName.length > 512 || /[\u0000-\u001f\u007f]/.test(fileName)) return '(submitted module)';
  return fileName;
}
