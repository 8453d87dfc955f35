/**
 * A job module as the cluster receives it: the user's `.ts` or `.js` entry bundled with its
 * local imports and npm dependencies into one ES module (esbuild), with an inline source map,
 * so that the Master can serve it by its content hash like any single-file module.
 *
 * Bundling happens here, on the client, and never on a Master: resolving imports reads the
 * user's files and node_modules, which only the client has; and a bundler run on submitted
 * input would let a submitter make the Master read its own filesystem (`import '/etc/...'`)
 * and spend its CPU outside the build sandbox's limits. The Master keeps treating the module
 * as untrusted bytes: it checks `jobModuleMaxBytes` before it evaluates anything.
 *
 * `flinkish` itself is not bundled: a second copy of the runtime inside a job would have its
 * own classes (an `instanceof` against the runtime's fails) and weigh more than most jobs. Its
 * imports become reads from the runtime that evaluates the module (job-api.ts): type-only
 * imports disappear, value imports get the cluster's own exports.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Message, type Plugin } from 'esbuild';
import { JOB_API_URL_KEY, JOB_DATAFLOW_API_URL_KEY } from '../dataflow/job-api.js';
import { ClientErrorCode } from './errors.js';
import { RuntimeError } from '../errors.js';

/** The package name job modules import the runtime by. */
const RUNTIME_PACKAGE = 'flinkish';
const API_NAMESPACE = 'flinkish-runtime-api';
/** Errors listed in a bundling failure's message; the rest are counted. */
const MAX_LISTED_ERRORS = 5;

export interface BundledJob {
  code: Uint8Array;
  /** The entry file, absolute. */
  entry: string;
}

export class JobBundleError extends RuntimeError {
  override name = 'JobBundleError';
  constructor(entry: string, errors: readonly Message[]) {
    const listed = errors.slice(0, MAX_LISTED_ERRORS).map(describeMessage);
    const more = errors.length > MAX_LISTED_ERRORS ? `; and ${errors.length - MAX_LISTED_ERRORS} more` : '';
    const first = errors[0]?.location;
    super(ClientErrorCode.JobBundleFailed, `job module ${entry} cannot be bundled: ${listed.join('; ')}${more}`, {
      details: {
        module: entry,
        ...(first ? { file: first.file, line: first.line, column: first.column + 1 } : {}),
        errors: errors.slice(0, MAX_LISTED_ERRORS).map(describeMessage),
      },
    });
  }
}

/** `job.ts:3:7: No matching export in "helper.ts" for import "twice"` (esbuild's columns are 0-based). */
function describeMessage(m: Message): string {
  const at = m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : '';
  return `${at}${m.text}`;
}

/** The names the runtime exports, known at bundle time from this client's own copy of it. */
interface RuntimeExports {
  /** Those of the DataStream API module (the same values): most jobs import only these. */
  readonly dataflow: string[];
  /** The rest of the public API. */
  readonly rest: string[];
}
let apiNames: Promise<RuntimeExports> | undefined;
function runtimeExportNames(): Promise<RuntimeExports> {
  // Imported lazily: the public API re-exports this client, so a static import would be a cycle.
  apiNames ??= Promise.all([import('../index.js'), import('../dataflow/index.js')]).then(([api, dataflow]) => {
    const names = Object.keys(api).filter((name) => name !== 'default');
    const inDataflow = (name: string) => name in dataflow && (dataflow as Record<string, unknown>)[name] === (api as Record<string, unknown>)[name];
    return { dataflow: names.filter(inDataflow), rest: names.filter((name) => !inDataflow(name)) };
  });
  return apiNames;
}

/** The part of the runtime's API a shim module reads, and the global that holds its URL. */
const API_PARTS = { dataflow: JOB_DATAFLOW_API_URL_KEY, rest: JOB_API_URL_KEY } as const;

/**
 * `import { X } from 'flinkish'` reads X from the runtime that evaluates the job. The runtime
 * is imported only when a value is (type-only imports leave no trace), from the URL the
 * evaluating thread publishes; an unknown name fails the bundle, as for any missing export.
 * Names of the DataStream API come from its own module, and the whole API (whose clients of
 * etcd and gRPC take a task thread a second to load on a busy machine) only for a job that
 * imports one of the others: each part is a shim without side effects, which esbuild leaves
 * out when nothing of it is used.
 */
function runtimeApiPlugin(names: RuntimeExports): Plugin {
  return {
    name: 'flinkish-runtime-api',
    setup(b) {
      b.onResolve({ filter: new RegExp(`^${RUNTIME_PACKAGE}$`) }, () => ({ path: RUNTIME_PACKAGE, namespace: API_NAMESPACE }));
      b.onResolve({ filter: new RegExp(`^${API_NAMESPACE}:(dataflow|rest)$`) }, (args) => ({ path: args.path, namespace: API_NAMESPACE, sideEffects: false }));
      b.onLoad({ filter: /.*/, namespace: API_NAMESPACE }, (args) => {
        if (args.path === RUNTIME_PACKAGE) {
          const reexport = (part: keyof RuntimeExports) => (names[part].length === 0 ? [] : [`export { ${names[part].join(', ')} } from '${API_NAMESPACE}:${part}';`]);
          return { loader: 'js', contents: [...reexport('dataflow'), ...reexport('rest')].join('\n') };
        }
        const part = args.path.slice(API_NAMESPACE.length + 1) as keyof RuntimeExports;
        return {
          loader: 'js',
          contents: [
            `const url = globalThis[Symbol.for(${JSON.stringify(API_PARTS[part])})];`,
            `if (typeof url !== 'string') throw new Error('this job module imports ${RUNTIME_PACKAGE}, which only a flinkish Master or TaskExecutor provides');`,
            'const api = await import(url);',
            ...names[part].map((name) => `export const ${name} = api.${name};`),
          ].join('\n'),
        };
      });
    },
  };
}

/** Bundles `file` (TypeScript or JavaScript) and everything it imports, but the runtime, into one ES module. */
export async function bundleJob(file: string): Promise<BundledJob> {
  const entry = path.resolve(file);
  const dir = path.dirname(entry);
  const names = await runtimeExportNames();
  let result;
  try {
    result = await build({
      entryPoints: [entry],
      absWorkingDir: dir,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      write: false,
      // Beside the code in the same bytes: the hash covers both, and the TaskExecutors get both.
      sourcemap: 'inline',
      // Node maps stack frames without the sources' text; leaving it out keeps modules small.
      sourcesContent: false,
      // Frames name the user's files by their absolute paths on this machine.
      sourceRoot: `${pathToFileURL(dir).href}/`,
      outfile: path.join(dir, 'job.bundle.mjs'),
      // CommonJS dependencies that require() Node's builtins need a require in an ES module. A
      // `var` (not an import or a const) so that bundling a bundle again stays valid.
      banner: { js: "var require = (await import('node:module')).createRequire('/');" },
      plugins: [runtimeApiPlugin(names)],
      logLevel: 'silent',
    });
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    if (Array.isArray(errors) && errors.length > 0) throw new JobBundleError(entry, errors);
    throw err;
  }
  const output = result.outputFiles[0];
  if (!output) throw new JobBundleError(entry, [{ id: '', pluginName: '', text: 'esbuild produced no output', location: null, notes: [], detail: undefined }]);
  return { code: output.contents, entry };
}
