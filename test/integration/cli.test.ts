/**
 * The CLI as a user meets it: the README's "Running a cluster" commands, read from README.md
 * and run verbatim with `npx flinkish` in a fresh project directory (package.json, the built
 * dist/ and node_modules, as after `npm ci && npm run build`) with no FLINKISH_* variables;
 * and the operator errors a client command gives when it cannot reach etcd.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { distRoot } from '../support/launcher.js';
import { useEtcd } from '../support/etcd.js';
import { etcdCredentialEnv } from '../../lib/ha/etcd-auth.js';
import { checkExactlyOnce } from '../../scripts/support/exactly-once.js';

const projectRoot = path.resolve(distRoot, '..');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a user who exported nothing of ours. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('FLINKISH_') || ['LOG_LEVEL', 'CHILD_LOG_LEVEL', 'LOG_FORMAT'].includes(key)) continue;
    env[key] = value;
  }
  // npx must take the project's own bin; never the registry.
  env['npm_config_offline'] = 'true';
  return env;
}

function shell(line: string, cwd: string, timeoutMs = 60_000, env: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', line], { cwd, env: { ...userEnv(), ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The commands of the first `sh` block under `## Running a cluster`. */
function readmeCommands(): string[] {
  const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Running a cluster'));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  assert.ok(block, 'README has a sh block under "Running a cluster"');
  return block[1]!.split('\n').filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
}

/** A fresh project directory, as a clone after `npm ci && npm run build`. */
function freshProject(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'flinkish-readme-'));
  copyFileSync(path.join(projectRoot, 'package.json'), path.join(dir, 'package.json'));
  symlinkSync(distRoot, path.join(dir, 'dist'));
  symlinkSync(path.join(projectRoot, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/** Kill by PID whatever `cluster start` recorded and is still alive (after a failure). */
function killLocalCluster(dir: string): void {
  const file = path.join(dir, '.flinkish', 'cluster.json');
  if (!existsSync(file)) return;
  const state = JSON.parse(readFileSync(file, 'utf8')) as { processes: Array<{ pid: number }> };
  for (const { pid } of state.processes) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

describe('cli - the README commands, verbatim, in a fresh directory', function () {
  this.timeout(240_000);
  let dir: string;

  before(() => {
    dir = freshProject();
  });
  after(() => {
    killLocalCluster(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs "Running a cluster" from start to stop, with exactly-once output across the savepoint', async () => {
    const commands = readmeCommands();
    assert.ok(commands.length >= 6, `README commands: ${commands.join('\n')}`);
    const printed: Record<string, string> = {};
    const stderrs: string[] = [];
    for (const command of commands) {
      const line = command.replace(/\bJOB_ID\b/g, printed['JOB_ID'] ?? 'JOB_ID').replace(/\bSAVEPOINT_PATH\b/g, printed['SAVEPOINT_PATH'] ?? 'SAVEPOINT_PATH');
      const isSavepoint = / savepoint /.test(line);
      const outcome = await shell(line, dir);
      stderrs.push(outcome.stderr);
      const context = `\n$ ${line}\nexit ${outcome.code}\nstdout:\n${outcome.stdout.slice(-3000)}\nstderr:\n${outcome.stderr.slice(-3000)}`;
      assert.equal(outcome.code, 0, context);
      if (line.includes('--detached')) {
        assert.match(outcome.stdout, /^[0-9a-f]{32}\n$/, `run --detached prints the job id and nothing else${context}`);
        printed['JOB_ID'] = outcome.stdout.trim();
      } else if (isSavepoint) {
        const lines = outcome.stdout.trim().split('\n');
        assert.equal(lines.length, 1, `savepoint prints its path only${context}`);
        assert.ok(existsSync(path.join(lines[0]!, '_metadata')), `the savepoint is complete${context}`);
        printed['SAVEPOINT_PATH'] = lines[0]!;
      } else if (line.includes('wordcount.js')) {
        // The running sums of 100000 lines of 8 words over a vocabulary of 100: each word's
        // last (highest) count is 8000.
        const counts = new Map<string, number>();
        for (const l of outcome.stdout.trim().split('\n')) {
          const [word, n] = JSON.parse(l) as [string, number];
          counts.set(word, Math.max(n, counts.get(word) ?? 0));
        }
        assert.equal(counts.size, 100, context);
        assert.ok([...counts.values()].every((n) => n === 8000), context);
      } else if (/ list$/.test(line)) {
        assert.match(outcome.stdout, /wordcount/, context);
        assert.ok(outcome.stdout.includes(printed['JOB_ID']!), context);
      } else if (line.includes(' status ')) {
        assert.equal((JSON.parse(outcome.stdout) as { jobId: string }).jobId, printed['JOB_ID'], context);
      } else if (line.includes(' top ')) {
        // Not a terminal here: one line per refresh, the job among the running ones.
        const lines = outcome.stdout.trim().split('\n');
        assert.equal(lines.length, 3, context);
        assert.ok(lines.every((l) => l.includes(printed['JOB_ID']!.slice(0, 8))), context);
        assert.match(lines[2]!, /running attempt=\d+ out\/s=\d+/, `the later refreshes have rates${context}`);
      } else if (line.includes(' logs ')) {
        const lines = outcome.stdout.trim().split('\n');
        assert.equal(lines.length, 5, context);
        assert.ok(lines.every((l) => /^taskexecutor-\d: \{/.test(l)), context);
      } else if (line.includes('cluster stop')) {
        assert.match(outcome.stdout, /^stopped \d+ processes\n$/, context);
      }
    }
    assert.ok(printed['SAVEPOINT_PATH'], 'the README stops a job with a savepoint and resumes it');
    // The keyed count (100000 records over 50 keys), stopped and resumed rescaled, wrote every count once.
    assert.deepEqual(checkExactlyOnce(path.join(dir, 'out'), 100_000, 50), []);
    assert.ok(!existsSync(path.join(dir, '.flinkish', 'cluster.json')), 'cluster stop removes the state file');
    // etcd runs with its default keepalive policy here: no process was refused for pinging too often.
    const logs = path.join(dir, '.flinkish', 'logs');
    for (const file of readdirSync(logs)) assert.doesNotMatch(readFileSync(path.join(logs, file), 'utf8'), /excess pings/, file);
    assert.doesNotMatch(stderrs.join('\n'), /excess pings/);
  });
});

describe('cli - top on a terminal', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = freshProject();
  });
  after(() => {
    killLocalCluster(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it('redraws the screen each refresh with the running job, its vertices, rates and backpressure', async () => {
    const start = await shell('npx flinkish cluster start --masters 1 -n 1 --slots 1', dir);
    assert.equal(start.code, 0, start.stderr);
    const run = await shell('npx flinkish run dist/scripts/jobs/keyed-count.js --detached --arg output=$PWD/out --arg recordsPerSecond=1000', dir);
    assert.equal(run.code, 0, run.stderr);
    const jobId = run.stdout.trim();
    // `script` (util-linux) gives the command a pseudo-terminal, as a user's shell would.
    const top = await shell(`script -qfec 'npx flinkish top --iterations 2 --interval-ms 1000' /dev/null`, dir);
    assert.equal(top.code, 0, top.stderr);
    const screens = top.stdout.split('\x1b[H\x1b[2J').slice(1);
    assert.equal(screens.length, 2, `two full redraws:\n${top.stdout}`);
    const last = screens[1]!.replace(/\r/g, '');
    assert.match(last, /^flinkish top .* leader 127\.0\.0\.1:\d+ .* slots 1\/1 used/);
    assert.match(last, new RegExp(`${jobId}  keyed-count  (running|created|waitingForResources)`));
    assert.match(last, /vertex\s+tasks\s+in\/s\s+out\/s\s+backpressure/);
    const stop = await shell('npx flinkish cluster stop', dir);
    assert.equal(stop.code, 0, stop.stderr);
  });
});

describe('cli - operator errors', function () {
  this.timeout(60_000);
  const etcd = useEtcd(1);
  let cwd: string;
  before(() => {
    cwd = mkdtempSync(path.join(tmpdir(), 'flinkish-cli-'));
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));
  const cli = (args: string[], env: Record<string, string> = {}): Promise<Outcome> =>
    shell([process.execPath, path.join(distRoot, 'scripts/cli.js'), ...args].map((a) => `'${a}'`).join(' '), cwd, 30_000, env);
  // The test etcd has authentication on: a user names its credentials like any other secret.
  const etcdAuthEnv = () => etcdCredentialEnv(etcd.cluster.credentials);

  it('names unreachable etcd endpoints and the time waited, fast, with nothing on stdout', async () => {
    const port = await closedPort();
    const endpoint = `http://127.0.0.1:${port}`;
    const started = Date.now();
    const r = await cli(['--etcd', endpoint, '--client-secret', 'a-secret-of-enough-length', '--connect-timeout-ms', '1500', 'list']);
    const tookMs = Date.now() - started;
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^error \\[ETCD_UNREACHABLE\\]: etcd is unreachable at ${endpoint}: no answer within \\d+ ms`));
    assert.match(r.stderr, /--etcd, FLINKISH_ETCD_ENDPOINTS/, 'it says what to do');
    assert.ok(tookMs < 10_000, `gave up after ${tookMs} ms`);
  });

  it('names a standalone Master that does not answer, fast', async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    const started = Date.now();
    const r = await cli(['--master', address, '--client-secret', 'a-secret-of-enough-length', '--connect-timeout-ms', '1000', 'list']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^error \\[MASTER_UNREACHABLE\\]: no Master at ${address}: not accepting connections within \\d+ ms .*--master, FLINKISH_MASTER_ADDRESS`));
    assert.ok(Date.now() - started < 10_000);
  });

  it('names the cluster id when etcd answers but no Master of it leads', async () => {
    const endpoints = etcd.cluster.endpoints.join(',');
    const started = Date.now();
    const r = await cli(['--etcd', endpoints, '--cluster-id', 'nobody-leads-here', '--client-secret', 'a-secret-of-enough-length', '--connect-timeout-ms', '1500', 'list'], etcdAuthEnv());
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error \[NO_LEADER\]: no leading Master of cluster 'nobody-leads-here' within 1500 ms: etcd at .* answers, but no Master leads\. Check that the Masters run/);
    assert.ok(Date.now() - started < 10_000);
  });

  it('writes its log lines to stderr, never to stdout', async () => {
    const r = await cli(['--etcd', etcd.cluster.endpoints.join(','), '--cluster-id', 'nobody-leads-here', '--client-secret', 'a-secret-of-enough-length', '--connect-timeout-ms', '500', '--log-level', 'debug', 'list'], etcdAuthEnv());
    assert.equal(r.stdout, '');
    const logLines = r.stderr.split('\n').filter((l) => l.startsWith('{"level":'));
    assert.ok(logLines.length > 0, `debug logs on stderr:\n${r.stderr}`);
  });

  it('logs without a local cluster says how to get one; a usage error exits 2', async () => {
    const r = await cli(['logs', 'master-1']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error \[INVALID_CONFIG\]: .*no local cluster in .* start one with 'flinkish cluster start'/);
  });

  it('without a local cluster or a secret, says how to get one', async () => {
    const r = await cli(['list']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no client secret: there is no local cluster .*cluster\.json does not exist; start one with 'flinkish cluster start'\); give the cluster's client secret .* with FLINKISH_CLIENT_SECRET or --client-secret/);
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
