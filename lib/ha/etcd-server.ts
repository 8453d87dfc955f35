/**
 * Starts and stops real etcd processes (Debian's etcd-server 3.4) for scripts, the demo and
 * tests: loopback with ephemeral ports by default, or one member per given host address
 * (`hosts`, e.g. namespace test hosts); temp data dirs, every process killed by PID.
 *
 * Timing. etcd's defaults (heartbeat 100 ms, election timeout 1000 ms) are kept: on a busy
 * two-core test machine a shorter election timeout makes the etcd cluster itself flap.
 * etcd grants no lease shorter than its minimum TTL, ceil(1.5 × election timeout) =
 * ceil(1.5 s) = 2 s here (measured: a 1 s lease request is granted with TTL 2). The election
 * default TTL of 3 s ({@link DEFAULT_LEASE_TTL_SECONDS}) sits above that with a margin.
 * `--pre-vote` is on (etcd 3.6's default): a member back from a partition rejoins without an
 * election, so the leader's lease is renewed throughout.
 * gRPC keepalive is etcd's default (`--grpc-keepalive-min-time` 5 s), as users run it: our
 * clients ping no more often than that (see etcd-client.ts).
 *
 * Authentication. etcd holds job graphs with their code, which a recovering leader imports,
 * so by default the launcher turns etcd's password authentication on: a `root` user with a
 * generated 192-bit password ({@link EtcdCluster.credentials}), then auth enable. Any other
 * local process is refused. The bcrypt cost is the minimum (4): it only slows the guessing of
 * low-entropy passwords, and every authentication of ours pays it. Simple tokens are kept alive
 * by use; their TTL is raised to an hour so that a quiet watcher's token outlives a pause.
 * Member data dirs are emptied at start: a previous run's root password is unknown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { closeSync, openSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import type { Logger } from '../logging.js';
import { EtcdStartError } from './errors.js';
import { etcdSecurityOptions, type EtcdCredentials } from './etcd-auth.js';
import { realClock, sleep, type TimerHandle } from '../util/clock.js';
import { stopProcess } from '../util/process-stop.js';

export const DEFAULT_ETCD_HEARTBEAT_MS = 100;
export const DEFAULT_ETCD_ELECTION_TIMEOUT_MS = 1000;

export interface EtcdClusterOptions {
  members: 1 | 3;
  /** Parent directory for the members' data dirs; a fresh temp dir (removed on stop) if absent. */
  dataDir?: string;
  electionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  log?: Logger;
  /** The etcd binary; `ETCD_BIN` or /usr/bin/etcd by default. */
  binary?: string;
  /** Deadline for the whole cluster to answer a linearizable read after start. */
  readyTimeoutMs?: number;
  /**
   * Outlive this process (a local cluster started by the CLI): members run in their own process
   * group, log to `<dataDir>/<name>.log`, and are not killed when this process exits.
   */
  detached?: boolean;
  /** Turn etcd's password authentication on with a generated root password (default true). */
  auth?: boolean;
  /** Serve clients and peers over TLS (https URLs) with these PEM files. */
  tls?: EtcdTlsFiles;
  /**
   * Where each member runs (one entry per member), instead of all on 127.0.0.1 with ephemeral
   * ports: member i listens on and advertises `address` (an IPv4 address or hostname of its host)
   * with etcd's standard ports 2379 (clients) and 2380 (peers), so addresses must be distinct.
   * The calling process must reach every address: it probes the members and enables auth.
   */
  hosts?: EtcdMemberHost[];
}

export interface EtcdMemberHost {
  /** The address the member binds and advertises. */
  address: string;
  /** Run etcd through this argv prefix (e.g. `['ip', 'netns', 'exec', NS]`); it must exec etcd, so that etcd's PID is the child's. */
  commandPrefix?: string[];
}

/** etcd's standard ports, used when members run on their own hosts. */
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;

export interface EtcdTlsFiles {
  /** CA that signed the members' certificate (and the client certificate). */
  caFile: string;
  /** The members' certificate (SAN IP:127.0.0.1; server and client use, for peers) and key. */
  certFile: string;
  keyFile: string;
  /** With these, etcd requires client certificates (`--client-cert-auth`) and the launcher presents this one. */
  clientCertFile?: string;
  clientKeyFile?: string;
}

export interface EtcdMember {
  readonly name: string;
  /** PID of the current process (changes on restart); undefined while it is not running. */
  readonly pid: number | undefined;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly running: boolean;
  kill(signal?: NodeJS.Signals): void;
  /** SIGSTOP; resolves once the process is stopped (see lib/util/process-stop.ts). */
  pause(): Promise<void>;
  resume(): void;
  /** Kill (if running) and start again on the same ports and data dir; resolves once it serves. */
  restart(): Promise<void>;
  /** Last lines etcd printed, for failure messages. */
  tail(lines?: number): string;
}

/** Endpoints and credentials of an etcd cluster: what `createEtcdClient` takes. */
export type EtcdClusterAccess = { endpoints: string[] } & EtcdCredentials;

export interface EtcdCluster {
  readonly endpoints: string[];
  /** What a client needs to use this cluster: `{}` without auth. The password is a secret. */
  readonly credentials: EtcdCredentials;
  /** Endpoints and credentials, ready for `createEtcdClient` or `EtcdHaServices`. */
  readonly clientOptions: EtcdClusterAccess;
  readonly members: EtcdMember[];
  /** Resolves once every running member answers a linearizable read; rejects at the deadline. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Kill every member by PID and remove the temp dirs. Idempotent. */
  stop(): Promise<void>;
}

/** PIDs of every etcd this process started, killed on exit so that none is orphaned. */
const livePids = new Set<number>();
let exitHookInstalled = false;
function trackPid(pid: number): void {
  livePids.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of livePids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

class EtcdProcess implements EtcdMember {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly output: string[] = [];

  constructor(
    readonly name: string,
    readonly clientUrl: string,
    readonly peerUrl: string,
    private readonly dir: string,
    private readonly args: () => string[],
    private readonly binary: string,
    private readonly log: Logger | undefined,
    /** For a detached member: the file its output goes to. */
    private readonly detachedLog: string | null = null,
    /** Run etcd through this argv prefix (another host's namespace); empty: run it directly. */
    private readonly commandPrefix: string[] = [],
  ) {}

  /** Set once auth is enabled, for the health probes. */
  credentials: EtcdCredentials = {};

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawn the process; rejects if it exits during `graceMs` (e.g. a port clash). */
  start(): void {
    const [command, ...args] = [...this.commandPrefix, this.binary, '--data-dir', this.dir, ...this.args()] as [string, ...string[]];
    let child: ChildProcess;
    if (this.detachedLog) {
      const fd = openSync(this.detachedLog, 'a');
      child = spawn(command, args, { stdio: ['ignore', fd, fd], detached: true });
      closeSync(fd);
      child.unref();
    } else {
      child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      if (child.pid !== undefined) trackPid(child.pid);
    }
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (child.pid !== undefined) livePids.delete(child.pid);
        this.log?.debug({ member: this.name, code, signal }, 'etcd member exited');
        resolve();
      });
      child.once('error', (err) => {
        this.output.push(`spawn error: ${err.message}`);
        resolve();
      });
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (line) this.output.push(line);
        if (this.output.length > 500) this.output.splice(0, this.output.length - 500);
      });
    }
    this.log?.debug({ member: this.name, pid: child.pid, clientUrl: this.clientUrl }, 'etcd member started');
  }

  /** True if the last run exited because a port was taken. */
  portClash(): boolean {
    return !this.running && this.output.some((l) => l.includes('address already in use'));
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    const pid = this.pid;
    if (pid === undefined) return;
    // A stopped process does not act on SIGTERM until continued.
    if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') process.kill(pid, 'SIGCONT');
    process.kill(pid, signal);
  }

  async pause(): Promise<void> {
    const pid = this.pid;
    if (pid !== undefined) await stopProcess(pid);
  }

  resume(): void {
    this.kill('SIGCONT');
  }

  async waitForExit(timeoutMs = 5000): Promise<boolean> {
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = realClock.setTimeout(() => resolve(false), timeoutMs)));
    const done = await Promise.race([this.exited.then(() => true), timedOut]);
    realClock.clearTimeout(timer);
    return done;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.kill('SIGKILL');
    await this.waitForExit();
  }

  async restart(): Promise<void> {
    await this.stop();
    this.output.length = 0;
    this.start();
    // etcd serves clients only once it has joined a quorum, so a member restarted while the
    // others are down cannot answer any request: this only waits until it has bound its
    // client port; `waitHealthy` waits for a quorum.
    await waitUntil(`${this.name} restarted`, 10_000, async () => {
      if (!this.running) throw new EtcdStartError(this.name, `exited on restart:\n${this.tail()}`);
      return canConnect(this.clientUrl);
    });
  }

  tail(lines = 20): string {
    return this.output.slice(-lines).join('\n');
  }
}

/** Reserve `count` distinct free loopback ports (held open together, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

async function waitUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = realClock.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (err) {
      if (err instanceof EtcdStartError) throw err;
      last = err;
    }
    if (realClock.now() > deadline) {
      throw new EtcdStartError(what, `not healthy within ${timeoutMs} ms`, { cause: last });
    }
    await sleep(realClock, 50);
  }
}

function canConnect(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** One linearizable read (it needs a quorum) through this member only, with a short deadline. */
async function probeMember(clientUrl: string, credentials: EtcdCredentials = {}): Promise<boolean> {
  const client = new Etcd3({
    hosts: [clientUrl],
    ...etcdSecurityOptions(credentials),
    dialTimeout: 500,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: realClock.now() + 500 }),
  });
  try {
    await client.get('/flinkish-health-probe').string();
    return true;
  } finally {
    client.close();
  }
}

/**
 * Start a 1- or 3-member etcd cluster on 127.0.0.1 and wait until it serves reads.
 *
 * @example
 * ```ts
 * const etcd = await startEtcdCluster({ members: 3 });
 * const client = createEtcdClient({ endpoints: etcd.endpoints });
 * etcd.members[0]!.kill('SIGKILL'); // the other two still form a quorum
 * await etcd.stop();
 * ```
 */
export async function startEtcdCluster(options: EtcdClusterOptions): Promise<EtcdCluster> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      lastError = err;
      if (!(err instanceof PortClash)) throw err;
      options.log?.warn({ attempt }, 'etcd port clash, retrying on new ports');
    }
  }
  throw lastError;
}

/** etcd exited because a port picked as free was taken meanwhile: retry on new ports. */
class PortClash extends EtcdStartError {
  constructor(member: string, tail: string) {
    super(member, `port clash:\n${tail}`);
  }
}

async function startOnce(options: EtcdClusterOptions): Promise<EtcdCluster> {
  const count = options.members;
  const hosts = options.hosts;
  if (hosts && (hosts.length !== count || new Set(hosts.map((h) => h.address)).size !== count)) {
    throw new EtcdStartError('cluster', `hosts must list ${count} distinct addresses, one per member (got ${hosts.map((h) => h.address).join(', ')})`);
  }
  const heartbeat = options.heartbeatIntervalMs ?? DEFAULT_ETCD_HEARTBEAT_MS;
  const election = options.electionTimeoutMs ?? DEFAULT_ETCD_ELECTION_TIMEOUT_MS;
  const binary = options.binary ?? process.env['ETCD_BIN'] ?? '/usr/bin/etcd';
  const ownsRoot = options.dataDir === undefined;
  const root = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'flinkish-etcd-')));
  const ports = hosts ? hosts.flatMap(() => [ETCD_CLIENT_PORT, ETCD_PEER_PORT]) : await freePorts(2 * count);
  const token = `flinkish-${randomBytes(6).toString('hex')}`;
  const tls = options.tls;
  const scheme = tls ? 'https' : 'http';
  const specs = Array.from({ length: count }, (_, i) => ({
    name: `etcd${i}`,
    clientUrl: `${scheme}://${hosts?.[i]?.address ?? '127.0.0.1'}:${ports[2 * i]}`,
    peerUrl: `${scheme}://${hosts?.[i]?.address ?? '127.0.0.1'}:${ports[2 * i + 1]}`,
    commandPrefix: hosts?.[i]?.commandPrefix ?? [],
  }));
  const tlsArgs = tls
    ? [
        '--cert-file', tls.certFile, '--key-file', tls.keyFile, '--trusted-ca-file', tls.caFile,
        '--peer-cert-file', tls.certFile, '--peer-key-file', tls.keyFile, '--peer-trusted-ca-file', tls.caFile, '--peer-client-cert-auth',
        ...(tls.clientCertFile ? ['--client-cert-auth'] : []),
      ]
    : [];
  // What every client of this cluster needs before auth: the CA, and the client certificate if required.
  const tlsCredentials: EtcdCredentials = tls
    ? { caFile: tls.caFile, ...(tls.clientCertFile && tls.clientKeyFile ? { certFile: tls.clientCertFile, keyFile: tls.clientKeyFile } : {}) }
    : {};
  const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(',');
  const members: EtcdProcess[] = [];
  for (const spec of specs) {
    const dir = path.join(root, spec.name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const args = (): string[] => [
      '--name', spec.name,
      '--listen-client-urls', spec.clientUrl,
      '--advertise-client-urls', spec.clientUrl,
      '--listen-peer-urls', spec.peerUrl,
      '--initial-advertise-peer-urls', spec.peerUrl,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', token,
      '--heartbeat-interval', String(heartbeat),
      '--election-timeout', String(election),
      // A member cut off campaigns in vain, raising its term; without pre-vote it deposes the
      // leader when it rejoins (an etcd election, no lease renewed meanwhile). 3.4's default is off.
      '--pre-vote',
      '--logger', 'zap',
      '--log-level', 'warn',
      '--enable-v2=false',
      '--bcrypt-cost', '4',
      '--auth-token-ttl', '3600',
      ...tlsArgs,
    ];
    const detachedLog = options.detached ? path.join(root, `${spec.name}.log`) : null;
    members.push(new EtcdProcess(spec.name, spec.clientUrl, spec.peerUrl, dir, args, binary, options.log, detachedLog, spec.commandPrefix));
  }

  let stopped = false;
  const endpoints = specs.map((s) => s.clientUrl);
  let credentials: EtcdCredentials = tlsCredentials;
  const cluster: EtcdCluster = {
    endpoints,
    get credentials() {
      return credentials;
    },
    get clientOptions() {
      return { endpoints, ...credentials };
    },
    members,
    async waitHealthy(timeoutMs = 10_000) {
      await Promise.all(
        members
          .filter((m) => m.running)
          .map((m) => waitUntil(m.name, timeoutMs, () => probeMember(m.clientUrl, m.credentials))),
      );
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(members.map((m) => m.stop()));
      if (ownsRoot) await rm(root, { recursive: true, force: true });
      else await Promise.all(specs.map((s) => rm(path.join(root, s.name), { recursive: true, force: true })));
    },
  };

  for (const member of members) member.start();
  try {
    await waitUntil('etcd cluster', options.readyTimeoutMs ?? 15_000, async () => {
      const dead = members.find((m) => !m.running);
      if (dead) {
        if (dead.portClash()) throw new PortClash(dead.name, dead.tail());
        throw new EtcdStartError(dead.name, `exited during start:\n${dead.tail()}`);
      }
      const answers = await Promise.all(members.map((m) => probeMember(m.clientUrl, tlsCredentials)));
      return answers.every(Boolean);
    });
    if (options.auth ?? true) credentials = { ...tlsCredentials, ...(await enableAuth(endpoints, tlsCredentials)) };
    for (const member of members) member.credentials = credentials;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  options.log?.info({ endpoints: cluster.endpoints, heartbeat, election, auth: credentials.username !== undefined }, 'etcd cluster ready');
  return cluster;
}

/**
 * Create the root user (generated password) with the root role and enable authentication;
 * from then on every request needs the credentials returned.
 */
async function enableAuth(endpoints: string[], tls: EtcdCredentials): Promise<{ username: string; password: string }> {
  const credentials = { username: 'root', password: randomBytes(24).toString('hex') };
  const client = new Etcd3({ hosts: endpoints, ...etcdSecurityOptions(tls), dialTimeout: 2000, defaultCallOptions: { deadline: realClock.now() + 10_000 } });
  try {
    await client.role('root').create();
    await client.user(credentials.username).create(credentials.password);
    await client.user(credentials.username).addRole('root');
    await client.auth.authEnable();
  } catch (err) {
    throw new EtcdStartError('cluster', 'enabling authentication failed', { cause: err });
  } finally {
    client.close();
  }
  return credentials;
}
