#!/usr/bin/env node
/**
 * The command line: run cluster processes, submit and manage jobs, and start or stop a local
 * cluster. `flinkish --help` and `flinkish COMMAND --help` document every option.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError, ErrorCode, RuntimeError } from '../lib/errors.js';
import { loadConfig, requireSecret, type ClusterConfig } from '../lib/config.js';
import { ClusterClient, type ClientOptions } from '../lib/client/cluster-client.js';
import { bundleJob } from '../lib/client/job-bundle.js';
import { etcdCredentialsOf } from '../lib/ha/etcd-auth.js';
import { createLogger } from '../lib/logging.js';
import { isUrlLocation } from '../lib/storage/location.js';
import { startMaster } from './processes/master.js';
import { runApplication } from './processes/application.js';
import { startTaskExecutor } from './processes/taskexecutor.js';
import { readClusterState, startLocalCluster, stopLocalCluster } from './local-cluster.js';
import { printProgress, printResult } from './progress.js';
import { drillDefaults, formatReport, runDrill } from './drill/drill.js';
import { AllFaultKinds, type FaultKind } from './drill/faults.js';
import { defaultKinds, validateDrillOptions } from './drill/options.js';
import { agentTarget } from './drill/agent-target.js';
import { clusterConfigValues, readClusterFile } from './drill/cluster-file.js';
import { Agent, AGENT_DEFAULT_PORT } from './agent/agent.js';
import { followLogs, readLogs, selectProcesses } from './ops/logs.js';
import { pauseUnlessAborted } from './support/wait.js';
import { renderTopLine, renderTopScreen, topFrame, type TopPoll } from './ops/top.js';

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return Number(value);
}

function port(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError(`expected a port (0-65535), got '${value}'`);
  return Number(value);
}

function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const i = value.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError(`expected key=value, got '${value}'`);
  return { ...previous, [value.slice(0, i)]: value.slice(i + 1) };
}

interface GlobalOptions {
  config?: string;
  logLevel?: string;
  master?: string;
  secret?: string;
  clientSecret?: string;
  clusterId?: string;
  etcd?: string;
  connectTimeoutMs?: number;
}

const program = new Command('flinkish')
  .description("A high-availability actor-system runtime with Apache Flink's runtime architecture.")
  .option('-c, --config <file>', 'JSON configuration file (precedence: defaults < file < FLINKISH_* env < flags)')
  .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
  .option('-m, --master <host:port>', 'address of the Master (default: the local cluster started by `cluster start`)')
  .option('--secret <secret>', 'node secret of Masters and TaskExecutors (prefer FLINKISH_SECRET)')
  .option('--client-secret <secret>', 'client secret of the job commands (prefer FLINKISH_CLIENT_SECRET)')
  .option('--cluster-id <id>', 'cluster id')
  .option('--etcd <urls>', 'etcd endpoints, comma separated (HA mode)')
  .option('--connect-timeout-ms <ms>', 'client commands: how long to wait for etcd and a leading Master (or, standalone, the Master) before giving up (default 10000)', positiveInt)
  .showHelpAfterError('(run with --help for usage)');

/**
 * Configuration for this invocation: defaults < the local cluster (client commands only) <
 * `--config` file < `FLINKISH_*` env < the flags actually given (commander leaves the others
 * undefined, and undefined never overrides).
 */
function config(extra: Partial<Record<keyof ClusterConfig, unknown>> = {}, useLocalCluster = false): ClusterConfig {
  const g = program.opts<GlobalOptions>();
  const sources = {
    ...(g.config ? { file: g.config } : {}),
    flags: { logLevel: g.logLevel, masterAddress: g.master, secret: g.secret, clientSecret: g.clientSecret, clusterId: g.clusterId, etcdEndpoints: g.etcd, ...extra },
  };
  if (!useLocalCluster) return loadConfig(sources);
  // The work dir (and so cluster.json) may itself come from the file, env or flags.
  const workDir = loadConfig(sources).workDir;
  return loadConfig({ ...sources, local: localClusterValues(workDir) });
}

/** What `cluster start` recorded about the local cluster, as configuration values; null without one. */
function localClusterValues(workDir: string): Partial<Record<keyof ClusterConfig, unknown>> | null {
  const local = readClusterState(workDir);
  if (!local) return null;
  return {
    masterAddress: local.masterAddress,
    clientSecret: local.clientSecret,
    clusterId: local.clusterId,
    etcdEndpoints: local.etcdEndpoints,
    etcdUsername: local.etcdUsername,
    etcdPassword: local.etcdPassword,
  };
}

/**
 * The client's credentials, from wherever the configuration found them (the local cluster's
 * cluster.json, a config file, env, flags); fails saying where to get them.
 */
function clientCredentials(c: ClusterConfig): { clusterId: string; clientSecret: string } {
  if (c.clientSecret.length < 16) {
    const local = path.resolve(c.workDir, 'cluster.json');
    const where = existsSync(local)
      ? `the local cluster's (${local}) is used only when no other cluster is named`
      : `there is no local cluster (${local} does not exist; start one with 'flinkish cluster start')`;
    throw new ConfigError(
      'clientSecret',
      `no client secret: ${where}; give the cluster's client secret (at least 16 characters) with FLINKISH_CLIENT_SECRET or --client-secret`,
    );
  }
  return { clusterId: c.clusterId, clientSecret: c.clientSecret };
}

function connectClient(c: ClusterConfig, extra: Partial<ClientOptions> = {}): Promise<ClusterClient> {
  const g = program.opts<GlobalOptions>();
  return ClusterClient.connect({
    masterAddress: c.masterAddress,
    etcdEndpoints: c.etcdEndpoints,
    etcdCredentials: etcdCredentialsOf(c),
    ...clientCredentials(c),
    connectTimeoutMs: g.connectTimeoutMs ?? 10_000,
    firstLeaderTimeoutMs: g.connectTimeoutMs ?? 10_000,
    // One clear error line for the operator; --log-level warn (or LOG_LEVEL) shows the retries.
    logger: createLogger({ name: 'client', level: g.logLevel ?? process.env['LOG_LEVEL'] ?? 'error' }),
    ...extra,
  });
}

async function withClient<T>(fn: (client: ClusterClient, c: ClusterConfig) => Promise<T>): Promise<T> {
  const c = config({}, true);
  const client = await connectClient(c);
  try {
    return await fn(client, c);
  } finally {
    await client.close();
  }
}

function ready(role: string, fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ ready: true, role, pid: process.pid, ...fields }) + '\n');
}

function onSignals(stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}

program
  .command('master')
  .description('run a Master process (standalone, or one of several HA Masters with --etcd)')
  .option('--host <host>', 'address the RPC, REST and metrics servers bind (a wildcard such as 0.0.0.0 needs --advertised-host)')
  .option('--advertised-host <host>', 'address other hosts reach this Master at (default: --host); its node id and published REST address carry it')
  .option('--port <port>', 'RPC port (0: any free port)', port)
  .option('--work-dir <dir>', 'working directory')
  .option('--slot-request-timeout-ms <ms>', 'how long a job waits for slots', positiveInt)
  .option('--application <job-module>', 'application mode: run this one job, then shut the cluster down')
  .option('-p, --parallelism <n>', 'default parallelism of the application job', positiveInt)
  .option('-a, --arg <key=value>', 'argument for the application job, repeatable', keyValue)
  .addHelpText(
    'after',
    '\nExamples:\n  FLINKISH_SECRET=... flinkish master --port 6123\n  FLINKISH_SECRET=... flinkish master --application dist/scripts/jobs/wordcount.js -p 2\n  FLINKISH_SECRET=... flinkish --etcd http://10.0.0.1:2379 master --host 10.0.0.2   # one of the HA Masters, on its own machine',
  )
  .action(async (o: { host?: string; advertisedHost?: string; port?: number; workDir?: string; slotRequestTimeoutMs?: number; application?: string; parallelism?: number; arg?: Record<string, string> }) => {
    // The Master runs no bundler (lib/client/job-bundle.ts says why): it takes the module as it is.
    if (o.application && /\.[cm]?ts$/.test(o.application)) {
      throw new RuntimeError(ErrorCode.InvalidArgument, `application mode runs a JavaScript module as it is, and ${o.application} is TypeScript: bundle it first with 'flinkish bundle ${o.application} -o job.mjs' and give job.mjs`);
    }
    const c = config({ host: o.host, advertisedHost: o.advertisedHost, masterPort: o.port, workDir: o.workDir, slotRequestTimeoutMs: o.slotRequestTimeoutMs });
    const master = await startMaster(c);
    onSignals(() => master.stop());
    if (o.application) {
      const file = path.resolve(o.application);
      ready('master', { node: master.node, rest: master.rest, metrics: master.metrics, application: file });
      const result = await runApplication(master.system, c, master.clientSecret, { file, ...(o.parallelism ? { parallelism: o.parallelism } : {}), ...(o.arg ? { args: o.arg } : {}) }, master.system.log);
      printResult(result);
      await master.stop();
      process.exit(result.state === 'finished' ? 0 : 1);
    }
    ready('master', { node: master.node, rest: master.rest, metrics: master.metrics });
  });

program
  .command('taskexecutor')
  .description('run a TaskExecutor process that registers with the Master')
  .option('--slots <n>', 'number of task slots', positiveInt)
  .option('--slot-memory-mb <mb>', 'managed memory per slot (heap limit of each task thread)', positiveInt)
  .option('--id <id>', 'TaskExecutor id (default: derived from its port)')
  .option('--host <host>', 'address the RPC, data and metrics servers bind (a wildcard such as 0.0.0.0 needs --advertised-host)')
  .option('--advertised-host <host>', 'address other hosts reach this TaskExecutor at (default: --host); its node id and data address carry it')
  .option('--work-dir <dir>', 'working directory')
  .addHelpText('after', '\nExamples:\n  FLINKISH_SECRET=... flinkish taskexecutor --master 127.0.0.1:6123 --slots 2\n  FLINKISH_SECRET=... flinkish --etcd http://10.0.0.1:2379 taskexecutor --host 0.0.0.0 --advertised-host 10.0.0.7')
  .action(async (o: { slots?: number; slotMemoryMb?: number; id?: string; host?: string; advertisedHost?: string; workDir?: string }) => {
    const c = config({ slots: o.slots, slotMemoryMb: o.slotMemoryMb, host: o.host, advertisedHost: o.advertisedHost, workDir: o.workDir });
    let te: Awaited<ReturnType<typeof startTaskExecutor>> | undefined;
    te = await startTaskExecutor(c, {
      ...(o.id ? { id: o.id } : {}),
      // Application mode ended: leave once the stop is done.
      onShutdown: () => void te?.stop().then(() => process.exit(0)),
    });
    onSignals(() => te.stop());
    ready('taskexecutor', { node: te.node, taskExecutorId: te.taskExecutorId, dataAddress: te.dataAddress, metrics: te.metrics });
  });

program
  .command('run')
  .description('submit a job module; attached, follow it until it ends and print its result')
  .argument('<job-module>', 'a .ts or .js ES module whose default export builds the dataflow: export default (env) => { ... }; bundled here with its imports')
  .option('-d, --detached', 'print the job id and return at once')
  .option('-p, --parallelism <n>', 'default parallelism', positiveInt)
  .option('-a, --arg <key=value>', 'argument for the job (env.args), repeatable', keyValue)
  .option('--name <name>', 'job name (default: the module file name)')
  .option('-s, --from-savepoint <dir>', 'start from this savepoint, a directory or s3:// location (rescaling allowed: key groups are redistributed)')
  .addHelpText('after', '\nExamples:\n  flinkish run dist/scripts/jobs/wordcount.js -p 2\n  flinkish run job.ts -p 2   # TypeScript, with local imports and npm dependencies\n  flinkish run job.js --detached --arg lines=1000000\n  flinkish run job.js -p 3 --from-savepoint .flinkish/savepoints/savepoint-ab12cd34-7')
  .action(async (file: string, o: { detached?: boolean; parallelism?: number; arg?: Record<string, string>; name?: string; fromSavepoint?: string }) => {
    // A wrong path is the user's to fix before any cluster is involved.
    if (!existsSync(file)) throw new RuntimeError(ErrorCode.InvalidArgument, `job module ${path.resolve(file)}: no such file; give the path of an ES module (e.g. dist/scripts/jobs/wordcount.js)`);
    const code = await withClient(async (client) => {
      const jobId = await client.submitFile(file, {
        ...(o.parallelism ? { parallelism: o.parallelism } : {}),
        ...(o.arg ? { args: o.arg } : {}),
        ...(o.name ? { name: o.name } : {}),
        ...(o.fromSavepoint ? { fromSavepoint: isUrlLocation(o.fromSavepoint) ? o.fromSavepoint : path.resolve(o.fromSavepoint) } : {}),
      });
      if (o.detached) {
        console.log(jobId);
        return 0;
      }
      console.error(`submitted job ${jobId}`);
      const result = await client.waitForResult(jobId, { onProgress: printProgress });
      printResult(result);
      return result.state === 'finished' ? 0 : 1;
    });
    process.exitCode = code;
  });

program
  .command('bundle')
  .description('bundle a job module with its imports into the one ES module `run` submits (for application mode, or to inspect it)')
  .argument('<job-module>', 'a .ts or .js ES module whose default export builds the dataflow')
  .option('-o, --output <file>', 'write the bundle here (default: stdout)')
  .addHelpText('after', '\nExamples:\n  flinkish bundle job.ts -o job.mjs\n  FLINKISH_SECRET=... flinkish master --application job.mjs')
  .action(async (file: string, o: { output?: string }) => {
    if (!existsSync(file)) throw new RuntimeError(ErrorCode.InvalidArgument, `job module ${path.resolve(file)}: no such file`);
    const { code } = await bundleJob(file);
    if (o.output) writeFileSync(o.output, code);
    else process.stdout.write(code);
  });

program
  .command('list')
  .description('list running and finished jobs')
  .option('--json', 'print the jobs as a JSON array')
  .addHelpText('after', '\nExamples:\n  flinkish list\n  flinkish list --json\n  flinkish --etcd http://127.0.0.1:2379 list')
  .action(async (o: { json?: boolean }) => {
    const jobs = await withClient((client) => client.list());
    if (o.json) return printJson(jobs);
    if (jobs.length === 0) console.log('no jobs');
    for (const j of jobs) {
      const stopped = j.stoppedWithSavepoint ? `  (stopped with savepoint ${j.stoppedWithSavepoint})` : '';
      console.log(`${j.jobId}  ${j.state.padEnd(10)}  ${new Date(j.submittedAt).toISOString()}  ${j.name}${stopped}`);
    }
  });

program
  .command('status')
  .description("show a job's state, its tasks and the slots they run in")
  .argument('<job-id>')
  .option('--json', 'the same JSON on one line')
  .addHelpText('after', '\nExample:\n  flinkish status 3f2a9c1e...  # JSON: vertices (chains), subtasks with TaskExecutor and slot, checkpoints')
  .action(async (jobId: string, o: { json?: boolean }) => {
    const details = await withClient((client) => client.status(jobId));
    if (o.json) return printJson(details);
    console.log(JSON.stringify(details, null, 2));
  });

program
  .command('cancel')
  .description('cancel a job')
  .argument('<job-id>')
  .option('--json', 'print {"jobId", "state"} as JSON')
  .addHelpText('after', '\nExample:\n  flinkish cancel 3f2a9c1e...\n(use `flinkish savepoint JOB --stop` to keep its state)')
  .action(async (jobId: string, o: { json?: boolean }) => {
    const answer = await withClient((client) => client.cancel(jobId));
    if (o.json) return printJson({ jobId, state: answer.state });
    console.log(`${jobId}: ${answer.state}`);
  });

program
  .command('savepoint')
  .description('take a savepoint of a running job (and stop it with --stop)')
  .argument('<job-id>')
  .option('--dir <dir>', 'target directory or s3://bucket/prefix (default: the cluster\'s savepointDir)')
  .option('--stop', 'cancel the job once the savepoint is taken')
  .option('--json', 'print {"jobId", "path", "stopped"} as JSON')
  .addHelpText('after', '\nExamples:\n  flinkish savepoint 3f2a... \n  flinkish savepoint 3f2a... --stop --dir /shared/savepoints')
  .action(async (jobId: string, o: { dir?: string; stop?: boolean; json?: boolean }) => {
    const answer = await withClient((client) => client.savepoint(jobId, { ...(o.dir ? { dir: o.dir } : {}), stop: o.stop ?? false }));
    if (o.json) return printJson({ jobId, path: answer.path, stopped: o.stop ?? false });
    console.log(answer.path);
  });

program
  .command('savepoints')
  .description("list a job's savepoints with their state (in-progress, completed, failed), as etcd records them")
  .argument('<job-id>')
  .option('--json', 'print the records as a JSON array')
  .addHelpText('after', '\nExample:\n  flinkish savepoints 3f2a...   # resume only from a completed one: run JOB --from-savepoint PATH')
  .action(async (jobId: string, o: { json?: boolean }) => {
    const records = await withClient((client) => client.savepoints(jobId));
    if (o.json) return printJson(records);
    if (records.length === 0) console.log('no savepoints');
    for (const r of records) {
      const stop = r.stop ? ' (stop)' : '';
      console.log(`${String(r.checkpointId).padStart(6)}  ${r.state.padEnd(11)}  ${new Date(r.triggeredAt).toISOString()}  ${r.path}${stop}${r.failure ? `  ${r.failure}` : ''}`);
    }
  });

program
  .command('top')
  .description('the cluster live: leader, slots, and per running job its vertices with records/s, backpressure and checkpoints')
  .option('--interval-ms <ms>', 'refresh interval', positiveInt, 1000)
  .option('-n, --iterations <n>', 'stop after this many refreshes (default: until Ctrl-C)', positiveInt)
  .addHelpText('after', '\nOn a terminal it redraws the screen; piped, it prints one line per refresh.\nExamples:\n  flinkish top\n  flinkish top --interval-ms 5000 -n 12 >> top.log')
  .action(async (o: { intervalMs: number; iterations?: number }) => {
    const tty = process.stdout.isTTY === true;
    const stopped = new AbortController();
    process.once('SIGINT', () => stopped.abort());
    await withClient(async (client) => {
      let previous: TopPoll | null = null;
      for (let i = 0; o.iterations === undefined || i < o.iterations; i++) {
        if (i > 0) await pauseUnlessAborted(o.intervalMs, stopped.signal);
        if (stopped.signal.aborted) break;
        const [overview, jobs] = await Promise.all([client.overview(), client.list()]);
        const active = jobs.filter((j) => !['finished', 'failed', 'canceled'].includes(j.state));
        const poll: TopPoll = { at: Date.now(), leader: client.masterAddress, overview, jobs: await Promise.all(active.map((j) => client.status(j.jobId))) };
        const frame = topFrame(poll, previous);
        previous = poll;
        process.stdout.write(tty ? `\x1b[H\x1b[2J${renderTopScreen(frame)}\n` : `${renderTopLine(frame)}\n`);
      }
    });
  });

program
  .command('logs')
  .description('print the log of a process of the local cluster (by role, kind or PID)')
  .argument('<role-or-pid>', 'a role (master-1, taskexecutor-2), a kind (master, taskexecutor, etcd: all of them, merged by time) or a PID')
  .option('--tail <n>', 'only the last n lines', positiveInt)
  .option('-f, --follow', 'keep printing what is appended, until Ctrl-C')
  .addHelpText('after', '\nExamples:\n  flinkish logs master-1\n  flinkish logs taskexecutor --tail 20\n  flinkish logs 12345 -f')
  .action(async (which: string, o: { tail?: number; follow?: boolean }) => {
    const workDir = config().workDir;
    const state = readClusterState(workDir);
    if (!state) throw new ConfigError('workDir', `no local cluster in ${path.resolve(workDir)} (no cluster.json): start one with 'flinkish cluster start', or name its work directory (FLINKISH_WORK_DIR or --config)`);
    const processes = selectProcesses(state, which);
    for (const line of readLogs(processes, o.tail)) process.stdout.write(line + '\n');
    if (!o.follow) return;
    const stopped = new AbortController();
    process.once('SIGINT', () => stopped.abort());
    await followLogs(processes, (line) => process.stdout.write(line + '\n'), stopped.signal);
  });

function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

program
  .command('agent')
  .description("run the fault agent of this host, through which `drill --cluster` signals this host's flinkish processes and cuts its links (needs root and nftables)")
  .option('--host <host>', 'address to bind (a wildcard such as 0.0.0.0 needs --advertised-host)')
  .option('--advertised-host <host>', 'address the drill dials (default: --host)')
  .option('--port <port>', 'port (0: any free port)', port, AGENT_DEFAULT_PORT)
  .addHelpText('after', '\nExample:\n  FLINKISH_SECRET=... flinkish --cluster-id prod agent --host 10.0.0.2   # the cluster\'s node secret and id; one agent per host')
  .action(async (o: { host?: string; advertisedHost?: string; port: number }) => {
    const c = config({ host: o.host, advertisedHost: o.advertisedHost });
    const agent = await Agent.start({
      clusterId: c.clusterId,
      secret: requireSecret(c),
      host: c.host,
      advertisedHost: c.advertisedHost,
      port: o.port,
      log: createLogger({ name: 'agent', level: c.logLevel }),
    });
    onSignals(() => agent.stop());
    ready('agent', { node: agent.address });
  });

function faultKinds(value: string): FaultKind[] {
  const kinds = value.split(',').map((k) => k.trim());
  for (const kind of kinds) {
    if (!(AllFaultKinds as readonly string[]).includes(kind)) throw new InvalidArgumentError(`unknown fault '${kind}'; known: ${AllFaultKinds.join(', ')}`);
  }
  return kinds as FaultKind[];
}

program
  .command('drill')
  .description('a failover drill: a stateful job, a seeded schedule of faults, and an exactly-once check, on an HA cluster it starts (locally, or across namespace hosts with --hosts) or (--cluster) one already running')
  .option('--cluster <file>', "drill a running cluster: JSON listing its hosts, their `flinkish agent`s and processes (see README); the node secret from FLINKISH_SECRET or --secret")
  .option('--faults <n>', 'number of faults to inject', positiveInt, drillDefaults.faults)
  .option('--kinds <list>', `fault kinds, comma separated (${AllFaultKinds.join(', ')}; default: every kind the cluster takes)`, faultKinds)
  .option('--hosts <n>', 'run the cluster across N network-namespace hosts (root; at least 7): adds partition and host-kill faults', positiveInt)
  .option('--seed <n>', 'random seed of the schedule', positiveInt, drillDefaults.seed)
  .option('--interval-ms <ms>', 'least time between faults', positiveInt, drillDefaults.intervalMs)
  .option('--lease-ttl <s>', "leader lease TTL in seconds (--cluster: the cluster's, unless its file gives leaseTtlSeconds)", positiveInt, drillDefaults.leaseTtlSeconds)
  .option('--task-executors <n>', 'TaskExecutors of the local cluster (one more than the job needs is a spare)', positiveInt, drillDefaults.taskExecutors)
  .option('--report <file>', 'JSON report', drillDefaults.report)
  .option('--json', 'print the report as JSON on stdout instead of the table (it is written to --report too)')
  .addHelpText(
    'after',
    '\nExamples:\n  flinkish drill\n  flinkish drill --faults 2 --json | jq .ok\n  flinkish drill --faults 8 --kinds leader-kill,te-kill --seed 42 --report /tmp/drill.json\n  sudo flinkish drill --hosts 7 --kinds partition-leader,partition-te,host-kill\n  FLINKISH_SECRET=... FLINKISH_CLIENT_SECRET=... flinkish drill --cluster hosts.json --kinds te-kill,leader-kill,partition-te --faults 3',
  )
  .action(async (o: { cluster?: string; faults: number; kinds?: FaultKind[]; hosts?: number; seed: number; intervalMs: number; leaseTtl: number; taskExecutors: number; report: string; json?: boolean }) => {
    const log = (line: string) => console.error(line);
    const kinds = o.kinds ?? defaultKinds(o.hosts, o.cluster !== undefined);
    let leaseTtlSeconds = o.leaseTtl;
    let cluster: Parameters<typeof runDrill>[0]['cluster'];
    if (o.cluster) {
      // The kinds before the file: a fault the agents cannot inject is refused before anything is read or dialed.
      validateDrillOptions({ kinds, cluster: true, hosts: o.hosts, taskExecutors: o.taskExecutors });
      const file = readClusterFile(o.cluster);
      const c = config(clusterConfigValues(file));
      const secret = requireSecret(c);
      leaseTtlSeconds = file.cluster.leaseTtlSeconds ?? leaseTtlSeconds;
      cluster = {
        start: () =>
          agentTarget(file, {
            clusterId: c.clusterId,
            secret,
            // Short requests: a cut or paused leader must not hold a status call for long.
            connectClient: () => connectClient(c, { requestTimeoutMs: 2000, failoverTimeoutMs: 60_000, firstLeaderTimeoutMs: 30_000 }),
            runName: `drill-${o.seed}-${Date.now()}`,
            log,
          }),
      };
    }
    const report = await runDrill({
      faults: o.faults,
      kinds,
      ...(o.hosts === undefined ? {} : { hosts: o.hosts }),
      seed: o.seed,
      intervalMs: o.intervalMs,
      leaseTtlSeconds,
      taskExecutors: o.taskExecutors,
      report: o.report,
      log,
      ...(cluster ? { cluster } : {}),
    });
    if (o.json) printJson(report);
    else {
      console.log(formatReport(report));
      console.log(`report: ${path.resolve(o.report)}`);
    }
    process.exitCode = report.ok ? 0 : 1;
  });

const cluster = program.command('cluster').description('a local cluster of processes on this machine');
cluster
  .command('start')
  .description('start a Master and TaskExecutors as background processes')
  .option('-n, --task-executors <n>', 'number of TaskExecutors', positiveInt, 2)
  .option('--slots <n>', 'slots per TaskExecutor', positiveInt, 2)
  .option('--port <port>', 'port of the first Master (0: any free port)', port, 0)
  .option('--masters <n>', 'Masters: one leads, the others stand by', positiveInt, 1)
  .option('--no-etcd', 'standalone: no etcd, one Master, no checkpoints or recovery')
  .addHelpText('after', '\nExamples:\n  flinkish cluster start -n 2 --slots 2\n  flinkish cluster start --masters 3 -n 3    # HA: a leader and two standbys')
  .action(async (o: { taskExecutors: number; slots: number; port: number; masters: number; etcd: boolean }) => {
    const state = await startLocalCluster({
      taskExecutors: o.taskExecutors,
      slots: o.slots,
      port: o.port,
      masters: o.masters,
      etcd: o.etcd,
      workDir: config().workDir,
    });
    const etcd = state.etcdEndpoints.length > 0 ? `, etcd at ${state.etcdEndpoints.join(',')}` : ' (standalone)';
    console.log(`local cluster up: ${o.masters} Master(s), first at ${state.masterAddress}, ${o.taskExecutors} TaskExecutors${etcd}; state in ${state.file}`);
    const rests = state.processes.filter((p) => p.role.startsWith('master') && p.rest).map((p) => `http://${p.rest}/`);
    if (rests.length > 0) console.log(`dashboard: ${rests.join(' or ')} (the leading Master serves it; a standby names the leader)`);
  });
cluster
  .command('stop')
  .description('stop the local cluster started by `cluster start`')
  .addHelpText('after', '\nExample:\n  flinkish cluster stop   # SIGTERM by PID, SIGKILL after 10 s')
  .action(async () => {
    const stopped = await stopLocalCluster(config().workDir);
    console.log(stopped > 0 ? `stopped ${stopped} processes` : 'no local cluster running');
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError || err instanceof RuntimeError) {
    console.error(`error [${err.code}]: ${err.message}`);
  } else {
    console.error(`error: ${(err as Error).message}`);
  }
  // 2: the invocation is wrong (configuration, arguments); 1: it failed.
  process.exit(err instanceof ConfigError || (err instanceof RuntimeError && err.code === ErrorCode.InvalidArgument) ? 2 : 1);
}
