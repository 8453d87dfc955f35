/**
 * The entry of the thread in which the Master evaluates a submitted job module (see
 * job-sandbox.ts): it imports the module, builds and validates its dataflow and posts the
 * dataflow's plain description back (the Master chains it into a job graph, built-graph.ts). Nothing of the module (functions, objects) leaves
 * this thread. Whatever the module does to this thread (exit, loop, exhaust its heap) ends
 * only this thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { buildJobGraph } from '../../lib/dataflow/jobgraph.js';
import { buildStreamGraph, type JobFunction } from '../../lib/dataflow/jobmodule.js';
import { RuntimeError } from '../../lib/errors.js';
import { inlineSourceMap, mapStack, prepareJobThread } from '../../lib/dataflow/job-api.js';
import type { SandboxReply, SandboxRequest, ThrownError } from './job-sandbox.js';

const port = parentPort;
if (port === null) throw new Error('job-sandbox-worker.js runs only as a worker thread');
const request = workerData as SandboxRequest;
prepareJobThread({ fileSourceMaps: false });

/** The stack with the module's frames named by its source map (a bundled `.ts` job's file and line). */
function userStack(stack: string): { stack: string; at?: string } {
  const base64 = /^data:text\/javascript;base64,/.exec(request.moduleUrl);
  if (!base64 || !stack.includes(request.moduleUrl)) return { stack };
  const map = inlineSourceMap(Buffer.from(request.moduleUrl.slice(base64[0].length), 'base64').toString('utf8'));
  return map ? mapStack(stack, request.moduleUrl, map) : { stack };
}

/** What was thrown, as plain strings; a thrown value can be anything, even a throwing getter. */
function describeThrown(thrown: unknown): ThrownError {
  try {
    if (thrown instanceof Error) {
      const code = thrown instanceof RuntimeError ? thrown.code : undefined;
      const { stack, at } = userStack(String(thrown.stack ?? ''));
      return { name: String(thrown.name), message: String(thrown.message), stack, ...(at ? { at } : {}), ...(code ? { code } : {}) };
    }
    return { name: typeof thrown, message: String(thrown), stack: '' };
  } catch {
    return { name: 'unknown', message: 'a value that cannot be described was thrown', stack: '' };
  }
}

function post(reply: SandboxReply): void {
  port!.postMessage(reply);
}

let job: JobFunction | undefined;
try {
  const module = (await import(request.moduleUrl)) as { default?: unknown };
  if (typeof module.default === 'function') job = module.default as JobFunction;
  else post({ t: 'not-a-job' });
} catch (err) {
  post({ t: 'import-failed', error: describeThrown(err) });
}
if (job) {
  try {
    const graph = buildStreamGraph(job, { parallelism: request.parallelism, args: request.args });
    const description = graph.describe();
    // Validated here, within the build's limits, for the user's error; the Master checks it again.
    buildJobGraph(description);
    post({ t: 'built', description });
  } catch (err) {
    post({ t: 'build-failed', error: describeThrown(err) });
  }
}
