/**
 * A job written in TypeScript, run as a user runs it: `flinkish run job.ts` in a project whose
 * job imports a local module, an npm package (`ms`, from node_modules) and values of the
 * `flinkish` API. The CLI bundles it (lib/client/job-bundle.ts); errors name the user's `.ts`
 * file and line: at bundling, while the Master builds the dataflow, and inside a task.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { distRoot, killAll } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';

/** The job's npm dependency, as the test computes the expected output with it (it has no types). */
const ms = createRequire(import.meta.url)('ms') as (value: number, options: { long: boolean }) => string;

const JOB_TS = `import type { StreamEnvironment } from 'flinkish';
import { RuntimeError } from 'flinkish';
import { label, type Labelled } from './labels.js';

export default function labelJob(env: StreamEnvironment): void {
  if (env.args['failAtBuild']) throw new RuntimeError('NOT_TODAY', 'no dataflow today');
  const count = Number(env.args['count'] ?? 20);
  const failAt = Number(env.args['failAt'] ?? -1);
  env
    .fromSequence(1, count)
    .map((n: number): Labelled => {
      if (n === failAt) throw new Error(\`record \${n} is poison\`);
      return label(n);
    })
    .name('label')
    .map((l: Labelled) => \`\${l.n}=\${l.text}\`)
    .collect();
}
`;
/** Lines of JOB_TS (1-based) that the errors must name. */
const BUILD_THROW_LINE = 6;
const TASK_THROW_LINE = 12;

const LABELS_TS = `import ms from 'ms';

export interface Labelled {
  n: number;
  text: string;
}

/** n seconds, as the npm package \`ms\` spells them. */
export function label(n: number): Labelled {
  return { n, text: ms(n * 1000, { long: true }) };
}
`;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

describe('ts-jobs - flinkish run job.ts, bundled with its imports', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let project: string;

  function flinkish(...args: string[]): Promise<Outcome> {
    const env = { ...process.env, FLINKISH_CLIENT_SECRET: cluster.env['FLINKISH_CLIENT_SECRET']!, FLINKISH_CLUSTER_ID: cluster.env['FLINKISH_CLUSTER_ID']! };
    return new Promise((resolve) => {
      execFile(process.execPath, [path.join(distRoot, 'scripts', 'cli.js'), '--master', cluster.masterAddress, ...args], { cwd: project, env, timeout: 40_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    });
  }

  before(async () => {
    // A user's project: the job's sources, and its dependencies installed in node_modules.
    project = mkdtempSync(path.join(tmpdir(), 'flinkish-ts-job-'));
    symlinkSync(path.join(distRoot, '..', 'node_modules'), path.join(project, 'node_modules'));
    writeFileSync(path.join(project, 'job.ts'), JOB_TS);
    writeFileSync(path.join(project, 'labels.ts'), LABELS_TS);
    writeFileSync(path.join(project, 'broken.ts'), `import { label } from './labels.js';\n\nexport default function broken(env) {\n  env.fromSequence(1, 3).map((n) => label(n).text.;\n}\n`);
    cluster = await startCluster({ taskExecutors: 1, slots: 2 });
    const client = await cluster.client();
    await waitFor('2 slots', async () => (await client.overview()).slotsFree === 2, { timeoutMs: 20_000 });
  });
  after(async () => {
    await cluster?.stop();
    await killAll();
    rmSync(project, { recursive: true, force: true });
  });

  it('runs a job with a local import, an npm dependency and a value import of the API', async () => {
    const r = await flinkish('run', 'job.ts', '-p', '2', '--arg', 'count=20');
    assert.equal(r.code, 0, r.stderr);
    const expected = Array.from({ length: 20 }, (_, i) => `${i + 1}=${ms((i + 1) * 1000, { long: true })}`);
    assert.deepEqual(r.stdout.trim().split('\n').sort(), expected.sort());
    assert.match(r.stderr, /job \w+ finished/);
  });

  it('names the .ts file and line of an error inside a task', async () => {
    const r = await flinkish('run', 'job.ts', '--arg', 'failAt=7');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /record 7 is poison/);
    assert.ok(r.stderr.includes(`${path.join(project, 'job.ts')}:${TASK_THROW_LINE}:`), r.stderr);
  });

  it('names the .ts file and line of an error while the Master builds the dataflow', async () => {
    const r = await flinkish('run', 'job.ts', '--arg', 'failAtBuild=1');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /JOB_BUILD_FAILED.*no dataflow today/);
    assert.ok(r.stderr.includes(`(at ${path.join(project, 'job.ts')}:${BUILD_THROW_LINE}:`), r.stderr);
  });

  it('bundles a job into one module for application mode, which runs the same; application mode refuses .ts', async () => {
    const bundled = await flinkish('bundle', 'job.ts', '-o', 'job.mjs');
    assert.equal(bundled.code, 0, bundled.stderr);
    assert.equal(bundled.stdout, '');
    const [direct, viaBundle] = await Promise.all([flinkish('run', 'job.ts', '--arg', 'count=5'), flinkish('run', 'job.mjs', '--arg', 'count=5')]);
    assert.equal(viaBundle.code, 0, viaBundle.stderr);
    assert.deepEqual(viaBundle.stdout.split('\n').sort(), direct.stdout.split('\n').sort());
    const refused = await flinkish('master', '--application', 'job.ts');
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /application mode runs a JavaScript module as it is.*flinkish bundle job\.ts -o job\.mjs/);
  });

  it('fails a module that cannot be bundled naming the file, line and problem, with nothing on stdout', async () => {
    const r = await flinkish('run', 'broken.ts');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error \[JOB_BUNDLE_FAILED\]: job module \S+broken\.ts cannot be bundled: broken\.ts:4:\d+: /);
    const missing = await flinkish('run', 'no-such-job.ts');
    assert.equal(missing.code, 2, 'a wrong path is an invocation error');
  });
});
