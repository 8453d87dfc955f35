/**
 * What a thread that evaluates job modules (the Master's build sandbox, a task's worker) sets
 * up first: the runtime's own API for the module's `import ... from 'flinkish'` (the client's
 * bundle reads it from here, see lib/client/job-bundle.ts), and source maps, so that the stack
 * of an error in the job names the user's `.ts` file and line rather than the bundle's.
 */
import { SourceMap } from 'node:module';

/** The global (a `Symbol.for` key) holding the URL of the runtime's public API module. */
export const JOB_API_URL_KEY = 'flinkish.job.apiUrl';
/**
 * The same for the DataStream API alone (lib/dataflow/index.js): what most jobs import, and a
 * fraction of the whole API's load time in every task thread (which brings etcd's and gRPC's clients).
 */
export const JOB_DATAFLOW_API_URL_KEY = 'flinkish.job.dataflowApiUrl';

/**
 * `fileSourceMaps`: the thread loads job modules from files (a task's), whose frames Node then
 * maps. A thread that loads them from `data:` URLs (the build sandbox) leaves it off: Node maps
 * no frames of those (mapStack does), and would fail to import one whose map comment is relative.
 */
export function prepareJobThread(options: { fileSourceMaps: boolean }): void {
  (globalThis as Record<symbol, unknown>)[Symbol.for(JOB_API_URL_KEY)] = new URL('../index.js', import.meta.url).href;
  (globalThis as Record<symbol, unknown>)[Symbol.for(JOB_DATAFLOW_API_URL_KEY)] = new URL('./index.js', import.meta.url).href;
  if (options.fileSourceMaps) process.setSourceMapsEnabled(true);
}

const INLINE_MAP = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

/** The inline source map at the end of a module's code, or null. */
export function inlineSourceMap(code: string): SourceMap | null {
  const found = INLINE_MAP.exec(code.slice(-4 * 1024 * 1024));
  if (!found?.[1]) return null;
  try {
    return new SourceMap(JSON.parse(Buffer.from(found[1], 'base64').toString('utf8')));
  } catch {
    return null;
  }
}

/**
 * `stack` with every frame in the module at `moduleUrl` (Node does not map `data:` modules)
 * replaced by the user's file and line from `map`; `at` is the first such frame.
 */
export function mapStack(stack: string, moduleUrl: string, map: SourceMap): { stack: string; at?: string } {
  let at: string | undefined;
  const frame = new RegExp(`${escapeRegExp(moduleUrl)}:(\\d+):(\\d+)`, 'g');
  const mapped = stack.replace(frame, (whole, line: string, column: string) => {
    const entry = map.findEntry(Number(line) - 1, Number(column) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (entry.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return whole;
    const source = sourcePath(entry.originalSource, map);
    const where = `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    at ??= where;
    return where;
  });
  return at === undefined ? { stack: mapped } : { stack: mapped, at };
}

/** A source of the map as a path: resolved against the map's sourceRoot (a file: URL from the bundler), when it has one. */
function sourcePath(source: string, map: SourceMap): string {
  const root = (map.payload as { sourceRoot?: unknown }).sourceRoot;
  let url: URL | null = null;
  try {
    url = new URL(source, typeof root === 'string' && root.length > 0 ? root : undefined);
  } catch {
    return source;
  }
  return url.protocol === 'file:' ? decodeURIComponent(url.pathname) : source;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
