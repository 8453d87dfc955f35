/**
 * User code never runs in the Master's main thread: a submitted job module is imported and
 * its dataflow built in a worker thread (job-sandbox-worker.ts) with a heap limit
 * (`jobBuildMemoryMb`) and a wall-clock limit (`jobBuildTimeoutMs`) after which the thread is
 * terminated. Only the resulting plain job graph comes back. A module that exits, loops,
 * exhausts its heap or throws fails its submission with a distinct code (errors.ts) and a
 * message naming the user's file; the Master's event loop, and so its leadership, is untouched.
 *
 * The thread gets an empty environment (the Master's secret stays out of reach of
 * `process.env`) and its stdout/stderr are captured into the Master's log, bounded.
 *
 * Off-heap memory (Buffers) is not covered by the heap limit, so the process's resident size is
 * watched while the build runs: growing it by more than the heap limit again (plus room for the
 * thread itself) stops the build too. This is exact because builds run one at a time
 * (build-gate.ts); a sudden allocation may overshoot by what fits in one sampling interval.
 *
 * What a worker thread does not contain: it shares the process, so code that means harm
 * (`process.kill(process.pid)`, reading files) is kept out by authentication, not by this.
 */
import { Worker } from 'node:worker_threads';
import type { Readable } from 'node:stream';
import type { StreamGraphDescription } from '../../lib/dataflow/description.js';
import { DataflowErrorCode } from '../../lib/dataflow/errors.js';
import { RuntimeError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logging.js';
import { jobFromDescription, type BuiltJob } from './built-graph.js';
import { JobBuildError, JobBuildErrorCode } from './errors.js';
import { every, realClock } from '../../lib/util/clock.js';

export type { BuiltJob };

export interface JobBuildLimits {
  /** Wall-clock time for import and build; then the thread is terminated. */
  timeoutMs: number;
  /** Heap (old generation) of the thread. */
  memoryMb: number;
}

/** What the worker thread is given. */
export interface SandboxRequest {
  moduleUrl: string;
  parallelism: number;
  args: Record<string, unknown>;
}

export interface ThrownError {
  name: string;
  message: string;
  stack: string;
  /** The first frame in the user's code, as its source map names it (`job.ts:3:9`). */
  at?: string;
  code?: string;
}

/** What the worker thread posts back: exactly one of these, then it ends (the first one counts). */
export type SandboxReply =
  | { t: 'built'; description: StreamGraphDescription }
  | { t: 'not-a-job' }
  | { t: 'import-failed'; error: ThrownError }
  | { t: 'build-failed'; error: ThrownError };

export interface JobBuild {
  /** The module: a `data:` URL of its code, or a file:// URL. */
  moduleUrl: string;
  /** The name the user knows the module by (the file they submitted); replaces the URL in messages. */
  displayName: string;
  parallelism: number;
  args: Record<string, unknown>;
  log: Logger;
}

const WORKER = new URL('./job-sandbox-worker.js', import.meta.url);
/** Bounds of what is taken from a thrown error and from the module's output. */
const MAX_MESSAGE_CHARS = 4000;
const MAX_STACK_LINES = 20;
const MAX_STACK_CHARS = 8000;
const MAX_OUTPUT_BYTES = 16 * 1024;
const MiB = 1024 * 1024;
/** A worker thread's own footprint (its isolate, young generation, code), beyond its heap limit. */
const THREAD_OVERHEAD_MB = 64;
const RSS_SAMPLE_MS = 20;
/** Codes of the dataflow's own checks, kept as they are (e.g. INVALID_JOB_GRAPH). */
const DATAFLOW_CODES = new Set<string>(Object.values(DataflowErrorCode));

/**
 * Evaluate a job module in a fresh worker thread and return its job graph. Rejects with a
 * JobBuildError (or the dataflow's INVALID_JOB_GRAPH / INVALID_JOB_MODULE); aborting `signal`
 * terminates the thread and rejects with NOT_LEADER.
 */
export function buildJobInSandbox(build: JobBuild, limits: JobBuildLimits, signal?: AbortSignal): Promise<BuiltJob> {
  const name = build.displayName;
  const details = { module: name };
  return new Promise<BuiltJob>((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled(name));
    const request: SandboxRequest = { moduleUrl: build.moduleUrl, parallelism: build.parallelism, args: build.args };
    const worker = new Worker(WORKER, {
      workerData: request,
      env: {},
      stdout: true,
      stderr: true,
      name: 'job-build',
      resourceLimits: { maxOldGenerationSizeMb: limits.memoryMb, maxYoungGenerationSizeMb: Math.min(16, Math.max(1, limits.memoryMb >> 3)) },
    });
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      realClock.clearTimeout(timer);
      stopWatchdog();
      signal?.removeEventListener('abort', onAbort);
      // The thread may still be running (a timeout, a reply followed by more work): end it. Its
      // exit code tells nothing more, and terminate() does not reject.
      void worker.terminate();
      outcome();
    };
    // A real thread is bounded in real time, whatever clock the Master's actors run on.
    const timer = realClock.setTimeout(
      () =>
        settle(() =>
          reject(
            new JobBuildError(
              JobBuildErrorCode.BuildTimeout,
              `job module ${name}: importing it and building its dataflow took longer than ${limits.timeoutMs} ms, so the Master stopped it; ` +
                'a job module must only describe the dataflow at build time (no loops, I/O or waiting), or raise jobBuildTimeoutMs',
              { ...details, timeoutMs: limits.timeoutMs },
            ),
          ),
        ),
      limits.timeoutMs,
    );
    const growthLimitMb = 2 * limits.memoryMb + THREAD_OVERHEAD_MB;
    const rssLimit = process.memoryUsage.rss() + growthLimitMb * MiB;
    const stopWatchdog = every(realClock, RSS_SAMPLE_MS, () => {
      if (process.memoryUsage.rss() <= rssLimit) return;
      settle(() =>
        reject(
          new JobBuildError(
            JobBuildErrorCode.BuildOutOfMemory,
            `job module ${name}: building its dataflow grew the Master's memory by more than ${growthLimitMb} MB (memory outside the heap, such as Buffers), ` +
              'so the Master stopped it; a job module must not load data at build time (read it in a source instead), or raise jobBuildMemoryMb',
            { ...details, memoryMb: limits.memoryMb, growthLimitMb },
          ),
        ),
      );
    });
    const onAbort = () => settle(() => reject(cancelled(name)));
    signal?.addEventListener('abort', onAbort, { once: true });
    captureOutput(worker.stdout, build.log, name, 'stdout');
    captureOutput(worker.stderr, build.log, name, 'stderr');

    worker.on('message', (reply: unknown) =>
      settle(() => {
        // Checked like a message off the wire: nothing in it may throw past this point.
        try {
          resolve(outcomeOf(reply, build));
        } catch (err) {
          reject(err);
        }
      }),
    );
    worker.on('error', (err: Error & { code?: string }) =>
      settle(() =>
        reject(
          err.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new JobBuildError(
                JobBuildErrorCode.BuildOutOfMemory,
                `job module ${name}: building its dataflow used more than the ${limits.memoryMb} MB of heap the Master allows, so the Master stopped it; ` +
                  'a job module must not load data at build time (read it in a source instead), or raise jobBuildMemoryMb',
                { ...details, memoryMb: limits.memoryMb },
              )
            : new JobBuildError(
                JobBuildErrorCode.BuildFailed,
                `job module ${name}: failed while its dataflow was built: ${userText(`${err.name}: ${err.message}`, build)}`,
                { ...details, stack: userStack(String(err.stack ?? ''), build) },
              ),
        ),
      ),
    );
    worker.on('exit', (exitCode) =>
      settle(() =>
        reject(
          new JobBuildError(
            JobBuildErrorCode.ModuleExited,
            `job module ${name}: ended its build thread (exit code ${exitCode}) before its dataflow was built; ` +
              'a job module must not call process.exit() or leave a top-level await unsettled',
            { ...details, exitCode },
          ),
        ),
      ),
    );
  });
}

export function cancelled(name: string): JobBuildError {
  return new JobBuildError(JobBuildErrorCode.BuildCancelled, `job module ${name}: this Master stopped leading while it built the dataflow; submit to the new leader`, {
    module: name,
  });
}

/** The job a reply carries, or the error it reports (thrown). */
function outcomeOf(reply: unknown, build: JobBuild): BuiltJob {
  const name = build.displayName;
  const r = (typeof reply === 'object' && reply !== null ? reply : {}) as Partial<Record<string, unknown>>;
  switch (r['t']) {
    case 'built':
      return jobFromDescription(r['description'], name);
    case 'not-a-job':
    case 'import-failed':
    case 'build-failed':
      throw failure({ t: r['t'], error: thrownOf(r['error']) } as Exclude<SandboxReply, { t: 'built' }>, build);
    default:
      throw new RuntimeError(DataflowErrorCode.InvalidJobModule, `job module ${name}: its build thread sent back no dataflow description`, {
        details: { module: name },
      });
  }
}

function thrownOf(error: unknown): ThrownError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as Partial<Record<string, unknown>>;
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  const at = text(e['at']).slice(0, 1024);
  return { name: text(e['name']) || 'Error', message: text(e['message']), stack: text(e['stack']), ...(at ? { at } : {}), ...(typeof e['code'] === 'string' ? { code: e['code'] } : {}) };
}

function failure(reply: Exclude<SandboxReply, { t: 'built' }>, build: JobBuild): RuntimeError {
  const name = build.displayName;
  switch (reply.t) {
    case 'not-a-job':
      return new RuntimeError(DataflowErrorCode.InvalidJobModule, `job module ${name}: has no default-exported function (env) => void`, {
        details: { module: name, problem: 'no default export' },
      });
    case 'import-failed': {
      const thrown = `${reply.error.name}: ${userText(reply.error.message, build)}`;
      const stack = userStack(reply.error.stack, build);
      return new RuntimeError(DataflowErrorCode.InvalidJobModule, `job module ${name}: cannot be imported: ${thrown}${atFrame(stack, name, reply.error.at)}`, {
        details: { module: name, problem: 'cannot be imported', stack },
      });
    }
    case 'build-failed': {
      const { code } = reply.error;
      const message = userText(reply.error.message, build);
      // The dataflow's own checks (an invalid graph) keep their code and message.
      if (code !== undefined && DATAFLOW_CODES.has(code)) return new RuntimeError(code, message, { details: { module: name } });
      const stack = userStack(reply.error.stack, build);
      return new JobBuildError(
        JobBuildErrorCode.BuildFailed,
        `job module ${name}: its default export threw while building the dataflow: ${reply.error.name}: ${message}${atFrame(stack, name, reply.error.at)}`,
        { module: name, stack },
      );
    }
  }
}

/** The module's internal URL (a `data:` URL of its code) renamed to the user's file, bounded. */
function userText(text: string, build: JobBuild, maxChars = MAX_MESSAGE_CHARS): string {
  const { moduleUrl, displayName } = build;
  const renamed = renameBounded(String(text), moduleUrl, displayName, maxChars);
  if (!moduleUrl.startsWith('file:')) return renamed;
  return renameBounded(renamed, decodeURIComponent(new URL(moduleUrl).pathname), displayName, maxChars);
}

/** `text` with every `from` replaced by `to`, cut at `maxChars`, without copying more of it. */
function renameBounded(text: string, from: string, to: string, maxChars: number): string {
  let out = '';
  let at = 0;
  while (out.length < maxChars) {
    const next = text.indexOf(from, at);
    const room = maxChars - out.length;
    if (next === -1 || next - at >= room) {
      out += text.slice(at, at + room);
      break;
    }
    out += text.slice(at, next) + to;
    at = next + from.length;
  }
  return out.slice(0, maxChars);
}

function userStack(stack: string, build: JobBuild): string {
  return userText(stack, build, MAX_STACK_CHARS).split('\n').slice(0, MAX_STACK_LINES).join('\n');
}

/** ` (at wordcount.js:3:9)`: the first frame in the user's code (from its source map, else in its file), with its line numbers. */
function atFrame(stack: string, name: string, mapped?: string): string {
  if (mapped) return ` (at ${mapped})`;
  for (const line of stack.split('\n')) {
    const at = line.indexOf(`${name}:`);
    if (at === -1) continue;
    const frame = /^[^\s)]+:\d+(:\d+)?/.exec(line.slice(at));
    if (frame) return ` (at ${frame[0]})`;
  }
  return '';
}

/** The module's console output goes to the Master's log (stderr), bounded; the rest is dropped. */
function captureOutput(stream: Readable, log: Logger, name: string, which: 'stdout' | 'stderr'): void {
  let seen = 0;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    if (seen >= MAX_OUTPUT_BYTES) return;
    const text = chunk.slice(0, MAX_OUTPUT_BYTES - seen);
    seen += chunk.length;
    log.info({ module: name, stream: which, output: text, truncated: seen > MAX_OUTPUT_BYTES }, 'job module output at build time');
  });
}
