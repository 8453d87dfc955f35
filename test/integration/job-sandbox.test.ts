/**
 * A submitted job module is evaluated in a worker thread of the Master, never in its main
 * thread. Each test submits a module that would kill, stall or exhaust a Master that ran it
 * in its main thread, to a real HA cluster (etcd, a leader and a standby), and checks the
 * error the client gets, that the same Master still leads (no leadership change), and that a
 * good job still runs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterClient } from '../../lib/client/cluster-client.js';
import { startHaCluster, type HaCluster } from '../../scripts/support/local-ha.js';
import { jobPath } from '../support/cluster.js';
import { killAll, type Proc } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';

const BUILD_TIMEOUT_MS = 1500;
const BUILD_MEMORY_MB = 32;
const MODULE_MAX_BYTES = 64 * 1024;

describe('master - job modules are evaluated outside the main thread', function () {
  this.timeout(60_000);
  let cluster: HaCluster;
  let client: ClusterClient;
  let leader: Proc;
  let modules: string;
  const leadershipChanges: string[] = [];

  before(async () => {
    cluster = await startHaCluster({
      masters: 2,
      taskExecutors: 1,
      slots: 2,
      env: {
        FLINKISH_JOB_BUILD_TIMEOUT_MS: String(BUILD_TIMEOUT_MS),
        FLINKISH_JOB_BUILD_MEMORY_MB: String(BUILD_MEMORY_MB),
        FLINKISH_JOB_MODULE_MAX_BYTES: String(MODULE_MAX_BYTES),
      },
    });
    client = await cluster.client();
    leader = await waitFor('a leading Master', () => cluster.leader(client), { timeoutMs: 20_000 });
    await waitFor('2 registered slots', async () => (await client.overview()).slotsTotal === 2, { timeoutMs: 15_000 });
    // Watched from now on (the output buffer keeps only the latest lines). The leader's own
    // first grant may still be on its way through the pipe; any later change shows as a
    // revocation, or as a grant to another Master.
    for (const master of cluster.masters) {
      master.onLine((line) => {
        const granted = line.includes('granted leadership') && master !== leader;
        if (granted || line.includes('leadership revoked')) leadershipChanges.push(`${master.name}: ${line}`);
      });
    }
    modules = path.join(cluster.workDir, 'user-modules');
    mkdirSync(modules, { recursive: true });
  });
  after(async () => {
    await cluster?.stop();
    await killAll();
  });

  /** Writes a user's module file and returns its path. */
  function moduleFile(name: string, source: string): string {
    const file = path.join(modules, name);
    writeFileSync(file, source);
    return file;
  }


  /** The leader of the start still leads, in its first and only term, and a good job runs. */
  async function leaderKeepsLeadingAndRunsAJob(): Promise<void> {
    assert.ok(leader.running, `the leader exited:\n${leader.tail()}`);
    assert.equal(cluster.leader(client), leader, 'the leader changed');
    assert.deepEqual(leadershipChanges, [], 'leadership changed');
    const jobId = await client.submitFile(jobPath('wordcount'), { args: { lines: 200 } });
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
  }

  it('fails a module that calls process.exit at build time with JOB_MODULE_EXITED', async () => {
    const file = moduleFile('exits.js', 'export default function exits(env) {\n  process.exit(3);\n}\n');
    await assert.rejects(client.submitFile(file), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'JOB_MODULE_EXITED');
      assert.match(err.message, /exits\.js/);
      assert.match(err.message, /exit code 3/);
      return true;
    });
    await leaderKeepsLeadingAndRunsAJob();
  });

  it('stops a module that loops forever at build time after jobBuildTimeoutMs with JOB_BUILD_TIMEOUT', async () => {
    const file = moduleFile('loops.js', 'export default function loops(env) {\n  for (;;) {}\n}\n');
    const started = Date.now();
    await assert.rejects(client.submitFile(file), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'JOB_BUILD_TIMEOUT');
      assert.match(err.message, new RegExp(`loops\\.js.*longer than ${BUILD_TIMEOUT_MS} ms.*jobBuildTimeoutMs`));
      return true;
    });
    assert.ok(Date.now() - started >= BUILD_TIMEOUT_MS);
    await leaderKeepsLeadingAndRunsAJob();
  });

  it('stops a module that allocates without bound at build time with JOB_BUILD_OUT_OF_MEMORY', async () => {
    const source = 'const kept = [];\nexport default function hog(env) {\n  for (;;) kept.push(new Array(100000).fill(Math.random()));\n}\n';
    const file = moduleFile('hog.js', source);
    await assert.rejects(client.submitFile(file), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'JOB_BUILD_OUT_OF_MEMORY');
      assert.match(err.message, new RegExp(`hog\\.js.*${BUILD_MEMORY_MB} MB.*jobBuildMemoryMb`));
      return true;
    });
    await leaderKeepsLeadingAndRunsAJob();
  });

  it('stops a module that allocates Buffers without bound at build time (off the heap) with JOB_BUILD_OUT_OF_MEMORY', async () => {
    const source = 'const kept = [];\nexport default function buffers(env) {\n  for (;;) kept.push(Buffer.alloc(16 * 1024 * 1024, 1));\n}\n';
    const file = moduleFile('buffers.js', source);
    await assert.rejects(client.submitFile(file), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'JOB_BUILD_OUT_OF_MEMORY');
      assert.match(err.message, /buffers\.js: building its dataflow grew the Master's memory by more than \d+ MB \(memory outside the heap/);
      return true;
    });
    await leaderKeepsLeadingAndRunsAJob();
  });

  it("shows a module's error at import with the user's file name, the thrown message and its line", async () => {
    const source = "const setting = undefined;\n// the module checks its setting at import\nif (!setting) throw new Error('boom: the setting is missing');\nexport default (env) => {};\n";
    const file = moduleFile('throws-at-import.js', source);
    await assert.rejects(client.submitFile(file), (err: Error & { code?: string; details?: Record<string, unknown> }) => {
      assert.equal(err.code, 'INVALID_JOB_MODULE');
      assert.ok(err.message.includes(`job module ${file}: cannot be imported: Error: boom: the setting is missing (at ${file}:3:`), err.message);
      assert.doesNotMatch(err.message, /[0-9a-f]{64}\.mjs/, 'the internal copy is not named');
      assert.ok(String(err.details?.['stack']).includes(`${file}:3:`), String(err.details?.['stack']));
      return true;
    });
    await leaderKeepsLeadingAndRunsAJob();
  });

  it("shows a module's error while building its dataflow as JOB_BUILD_FAILED, with the file and line", async () => {
    const source = "export default function build(env) {\n  const n = Number(env.args['n']);\n  if (!(n > 0)) throw new RangeError(`n must be positive, got ${n}`);\n}\n";
    const file = moduleFile('throws-at-build.js', source);
    await assert.rejects(client.submitFile(file, { args: { n: -1 } }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'JOB_BUILD_FAILED');
      assert.ok(err.message.includes(`job module ${file}: its default export threw while building the dataflow: RangeError: n must be positive, got -1 (at ${file}:3:`), err.message);
      return true;
    });
    await leaderKeepsLeadingAndRunsAJob();
  });

  it('refuses a module above jobModuleMaxBytes before evaluating it', async () => {
    // Were it evaluated, it would exit its thread: JOB_MODULE_EXITED, not JOB_MODULE_TOO_LARGE.
    const source = `process.exit(9);\nexport default (env) => {};\n// ${'x'.repeat(MODULE_MAX_BYTES)}\n`;
    const file = moduleFile('too-large.js', source);
    // The bytes as they are (bundling would drop the comment): the Master checks whatever a client sends.
    await assert.rejects(client.submit(Buffer.from(source), { fileName: file }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'JOB_MODULE_TOO_LARGE');
      assert.match(err.message, new RegExp(`too-large\\.js is ${Buffer.byteLength(source)} bytes, above the limit of ${MODULE_MAX_BYTES} bytes \\(jobModuleMaxBytes\\)`));
      return true;
    });
    const hash = createHash('sha256').update(source).digest('hex');
    const stored = readdirSync(cluster.workDir, { recursive: true }).map(String).filter((f) => f.includes(hash));
    assert.deepEqual(stored, [], 'the module was not stored');
    await leaderKeepsLeadingAndRunsAJob();
  });
});

describe('master - a build in progress when leadership is lost', function () {
  this.timeout(90_000);
  let cluster: HaCluster;
  after(async () => {
    await cluster?.stop();
    await killAll();
  });

  it('is terminated on step-down, and the client resubmits to the new leader', async () => {
    cluster = await startHaCluster({ masters: 2, taskExecutors: 1, slots: 2, env: { FLINKISH_JOB_BUILD_TIMEOUT_MS: '60000' } });
    const client = await cluster.client();
    const first = await waitFor('a leading Master', () => cluster.leader(client), { timeoutMs: 20_000 });
    await waitFor('2 registered slots', async () => (await client.overview()).slotsTotal === 2, { timeoutMs: 15_000 });
    // Its first evaluation loops (and leaves a marker); any later one builds a good dataflow.
    const marker = path.join(cluster.workDir, 'first-build-started');
    const file = path.join(cluster.workDir, 'loops-once.js');
    writeFileSync(
      file,
      [
        "import { existsSync, writeFileSync } from 'node:fs';",
        'export default function loopsOnce(env) {',
        "  const marker = env.args['marker'];",
        '  if (!existsSync(marker)) {',
        "    writeFileSync(marker, 'x');",
        '    for (;;) {}',
        '  }',
        "  env.fromSequence(1, 100).collect();",
        '}',
        '',
      ].join('\n'),
    );
    const submitted = client.submitFile(file, { args: { marker } });
    await waitFor('the first build to loop', () => existsSync(marker));
    await first.pause();
    const next = await waitFor('a new leader', () => {
      const leader = cluster.leader(client);
      return leader && leader !== first ? leader : undefined;
    }, { timeoutMs: 20_000 });
    first.resume();
    await first.waitForLine((line) => line.includes('leadership revoked'), 15_000);
    // The cancelled build answered the client NOT_LEADER, so it resubmitted to the new leader.
    await first.waitForLine((line) => line.includes('job submission rejected') && line.includes('stopped leading while it built the dataflow'), 15_000);
    const jobId = await submitted;
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    assert.equal(result.collected.length, 100);
    assert.equal(cluster.leader(client), next);
  });
});
