/**
 * Job modules: an ES module whose default export is `(env: StreamEnvironment) => void`. The
 * Master evaluates it for the graph's description (in a worker thread, see
 * actors/master/job-sandbox.ts); each task evaluates it again for the user functions of its
 * chain. Both go through `buildStreamGraph`, so both see the same ids.
 */
import { StreamEnvironment, type StreamEnvironmentOptions } from './environment.js';
import { InvalidJobModuleError } from './errors.js';
import type { StreamGraph } from './streamgraph.js';

/** What a job module default-exports. */
export type JobFunction = (env: StreamEnvironment) => void;

/** Runs a job function against a fresh environment and builds (and validates) its graph. */
export function buildStreamGraph(job: JobFunction, options: StreamEnvironmentOptions = {}): StreamGraph {
  const env = new StreamEnvironment(options);
  job(env);
  return env.build();
}

/** Imports a job module by URL (file:// or data:) and returns its default export, checked. */
export async function importJobFunction(moduleUrl: string): Promise<JobFunction> {
  let module: { default?: unknown };
  try {
    module = (await import(moduleUrl)) as { default?: unknown };
  } catch (err) {
    // The thrown message is what the user needs; the cause keeps the rest.
    const thrown = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new InvalidJobModuleError(moduleUrl, `cannot be imported: ${thrown}`, err);
  }
  if (typeof module.default !== 'function') throw new InvalidJobModuleError(moduleUrl, 'has no default-exported function (env) => void');
  return module.default as JobFunction;
}
