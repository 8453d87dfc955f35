import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { jobFromDescription, MAX_OPERATORS } from '../../../actors/master/built-graph.js';
import { moduleLimit, prepareJob } from '../../../actors/master/job-preparation.js';
import { buildStreamGraph } from '../../../lib/dataflow/jobmodule.js';
import { buildJobInSandbox, type JobBuild } from '../../../actors/master/job-sandbox.js';
import { MAX_VALUE_BYTES } from '../../../lib/ha/codec.js';
import { createLogger } from '../../../lib/logging.js';
import { jobPath } from '../../support/cluster.js';
import { waitFor } from '../../support/wait.js';

describe('master - job sandbox (a real worker thread)', function () {
  let dir: string;
  const log = createLogger({ level: 'silent' });
  const limits = { timeoutMs: 30_000, memoryMb: 32 };
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'flinkish-sandbox-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function build(file: string, displayName = 'user-job.js'): JobBuild {
    return { moduleUrl: pathToFileURL(file).href, displayName, parallelism: 2, args: { lines: 10 }, log };
  }

  it('builds the job graph of a good module and returns only plain data', async () => {
    const built = await buildJobInSandbox(build(jobPath('wordcount')), limits);
    assert.deepEqual(
      built.jobGraph.vertices.map((v) => v.parallelism),
      built.jobGraph.vertices.map(() => 2),
    );
    assert.ok(built.jobGraph.vertices.length >= 2);
    assert.equal(built.jobConfig.checkpointing, null);
    assert.doesNotThrow(() => structuredClone(built));
  });

  it('terminates a running build when its signal is aborted (a state exit), long before its timeout', async () => {
    const started = path.join(dir, 'started');
    const file = path.join(dir, 'loops.mjs');
    writeFileSync(file, `import { writeFileSync } from 'node:fs';\nexport default () => { writeFileSync(${JSON.stringify(started)}, 'x'); for (;;) {} };\n`);
    const controller = new AbortController();
    const building = buildJobInSandbox(build(file), { ...limits, timeoutMs: 600_000 }, controller.signal);
    await waitFor('the module to start looping', () => existsSync(started));
    controller.abort();
    await assert.rejects(building, (err: Error & { code?: string }) => {
      assert.equal(err.code, 'NOT_LEADER');
      assert.match(err.message, /user-job\.js: this Master stopped leading/);
      return true;
    });
  });

  it('names a module without a default-exported function', async () => {
    const file = path.join(dir, 'no-default.mjs');
    writeFileSync(file, 'export const x = 1;\n');
    await assert.rejects(buildJobInSandbox(build(file), limits), { code: 'INVALID_JOB_MODULE', message: 'job module user-job.js: has no default-exported function (env) => void' });
  });

  // Node gives no location for a module's syntax error short of printing it uncaught.
  it('reports a syntax error with the user file name instead of the internal path', async () => {
    const file = path.join(dir, 'abc123.mjs');
    writeFileSync(file, 'export default (env) => {};\nthis is not javascript\n');
    await assert.rejects(buildJobInSandbox(build(file), limits), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'INVALID_JOB_MODULE');
      assert.match(err.message, /^job module user-job\.js: cannot be imported: SyntaxError: Unexpected identifier/);
      assert.ok(!err.message.includes('abc123'), err.message);
      return true;
    });
  });

  it('keeps the dataflow check codes of an invalid graph', async () => {
    const file = path.join(dir, 'no-sink.mjs');
    writeFileSync(file, 'export default (env) => { env.fromSequence(1, 10).map((x) => x); };\n');
    await assert.rejects(buildJobInSandbox(build(file), limits), { code: 'INVALID_JOB_GRAPH' });
  });
});

describe('master - job module size limit', () => {
  const log = createLogger({ level: 'silent' });
  const options = (ha: boolean, configured: number) => ({
    parallelism: 1,
    args: {},
    fileName: 'big.js',
    moduleLimit: moduleLimit(configured, ha),
    limits: { timeoutMs: 1000, memoryMb: 32 },
    log,
  });

  it('is the configured bound, and with HA at most what a job record in etcd holds', () => {
    assert.deepEqual(moduleLimit(1000, false), { bytes: 1000, reason: 'jobModuleMaxBytes' });
    assert.deepEqual(moduleLimit(1000, true), { bytes: 1000, reason: 'jobModuleMaxBytes' });
    const ha = moduleLimit(64 << 20, true);
    assert.ok(ha.bytes < MAX_VALUE_BYTES, `${ha.bytes}`);
    assert.match(ha.reason, /HA store/);
    assert.deepEqual(moduleLimit(64 << 20, false).bytes, 64 << 20);
  });

  it('refuses a larger module before evaluating it, naming the file, the sizes and why', async () => {
    // Evaluated, it would exit its thread (JOB_MODULE_EXITED).
    const code = Buffer.from(`process.exit(1);\n// ${'x'.repeat(MAX_VALUE_BYTES)}\n`);
    await assert.rejects(prepareJob(code, options(true, 64 << 20)), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'JOB_MODULE_TOO_LARGE');
      assert.match(err.message, new RegExp(`^job module big\\.js is ${code.length} bytes, above the limit of ${moduleLimit(64 << 20, true).bytes} bytes \\(what the HA store holds per job`));
      return true;
    });
  });
});

describe('master - what a build thread sends back is checked like a message off the wire', () => {
  const good = () => buildStreamGraph((env) => env.fromSequence(1, 10).map((x: number) => x * 2).collect()).describe();

  it('chains a good description into a job graph', () => {
    const built = jobFromDescription(structuredClone(good()), 'job.js');
    assert.ok(built.jobGraph.vertices.length >= 1);
    assert.deepEqual(built.jobConfig, { checkpointing: null, restartStrategy: { type: 'none' } });
  });

  it('refuses malformed, oversized and invalid descriptions with errors, never a crash', () => {
    const cases: Array<[unknown, string]> = [
      [null, 'INVALID_JOB_MODULE'],
      [{ operators: 'x', edges: [] }, 'INVALID_JOB_MODULE'],
      [{ ...good(), operators: [{ id: 1 }] }, 'INVALID_JOB_MODULE'],
      [{ ...good(), config: { checkpointing: 'yes', restartStrategy: { type: 'none' } } }, 'INVALID_JOB_MODULE'],
      [{ ...good(), operators: Array.from({ length: MAX_OPERATORS + 1 }, () => good().operators[0]) }, 'INVALID_JOB_MODULE'],
      [{ ...good(), edges: good().edges.map((e) => ({ ...e, input: 3 })) }, 'INVALID_JOB_MODULE'],
      [{ ...good(), edges: good().edges.map((e) => ({ ...e, sideOutput: 7 })) }, 'INVALID_JOB_MODULE'],
      [{ ...good(), edges: [] }, 'INVALID_JOB_GRAPH'],
      [{ ...good(), config: { checkpointing: null, restartStrategy: { type: 'forever' } } }, 'INVALID_JOB_GRAPH'],
    ];
    for (const [description, code] of cases) {
      assert.throws(() => jobFromDescription(description, 'job.js'), { code }, JSON.stringify(description)?.slice(0, 200));
    }
  });

  it('refuses a reply the module forged on the thread port', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flinkish-sandbox-'));
    try {
      const file = path.join(dir, 'forges.mjs');
      writeFileSync(file, "import { parentPort } from 'node:worker_threads';\nparentPort.postMessage({ t: 'import-failed', error: null });\nparentPort.postMessage({ t: 'built', description: { operators: [{}], edges: [] } });\nexport default () => {};\n");
      const build = { moduleUrl: pathToFileURL(file).href, displayName: 'forges.js', parallelism: 1, args: {}, log: createLogger({ level: 'silent' }) };
      await assert.rejects(buildJobInSandbox(build, { timeoutMs: 10_000, memoryMb: 32 }), { code: 'INVALID_JOB_MODULE', message: 'job module forges.js: cannot be imported: Error: ' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
