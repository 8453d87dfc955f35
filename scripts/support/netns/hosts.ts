/**
 * Test hosts made of Linux network namespaces, for tests, the drill and benchmarks that need
 * several machines, partitions between them, and hosts that die with their disk.
 *
 * Layout. One run creates a "switch" namespace holding a bridge (`br0`) and one namespace per
 * host; each host is joined to the switch by a veth pair created directly across the two
 * namespaces (`hN` on the switch, `eth0` in the host), so the root namespace never sees a link,
 * an address or a route of ours. Host i gets 198.18.0.(i+1)/24 (198.18.0.0/15 is reserved for
 * network test beds) and its loopback; no namespace has a default route, so nothing can leave.
 * Because every run has its own namespaces, parallel runs use the same addresses without meeting.
 *
 * Names. Every namespace is `fkh-<creator pid>.<its start time>-<random>-<role>`: unique per run,
 * and a later run can tell a leftover of a dead run (no process with that PID and start time, so
 * a reused PID does not count) from a live one and sweep only those
 * ({@link sweepStaleNetnsHosts}). Each host also has a local data directory under a temp root
 * of the same name: its "disk".
 *
 * Partitions. nftables rules inside the receiving host drop what arrives from a cut peer
 * (`ip saddr @cut_from drop` on the input hook of table `inet flinkish_faults`). Dropping at the
 * receiver's input, not the sender's output, is what a broken link does: the sender's kernel
 * sends, and the packet vanishes (an output drop would hand the sender a local EPERM, which no
 * real network does). A one-way partition A→B therefore drops A's packets at B and lets B's
 * reach A. For TCP this means that no new connection can be set up in either direction (B's SYN
 * reaches A, A's SYN-ACK is lost), and on an established connection B's bytes reach A's
 * application while A's replies and acknowledgements are lost; datagrams B→A pass. Healing removes
 * the rules; TCP's retransmissions then deliver what was held back.
 *
 * Host kill. Every process whose network namespace is the host's (`ip netns pids`, so also
 * grandchildren the launcher never saw) is SIGKILLed by PID, the host's data directory is
 * deleted, and its switch port goes down, so that peers get silence, as from a dead machine, not
 * the resets a live kernel would send. {@link NetnsHost.revive} boots it again with an empty disk.
 *
 * Cleanup. `destroy()` kills every process in the namespaces and deletes them (veths and the
 * bridge go with them) and the data root. The same runs synchronously on process exit and on
 * SIGINT/SIGTERM, so an interrupted test leaves nothing behind; a SIGKILLed run leaves names that
 * the next run's sweep removes.
 *
 * @example
 * ```ts
 * const net = await NetnsHosts.create({ hosts: 3 });
 * const server = await net.hosts[1]!.launch('test/fixtures/net-probe.js', { args: ['serve'] });
 * const cut = await net.partition(net.hosts[0]!, net.hosts[1]!); // both directions
 * await cut.heal();
 * await net.hosts[2]!.kill();  // processes and disk gone, silent on the network
 * await net.destroy();
 * ```
 */
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { launch, distRoot, type LaunchOptions, type Proc } from '../launcher.js';
import { waitFor } from '../wait.js';
import { run, runSync } from './commands.js';
import { NetnsCommandError, NetnsInvalidUseError, NetnsUnavailableError } from './errors.js';

/** Every namespace and temp dir of ours starts with this. */
export const NETNS_PREFIX = 'fkh';
/** `fkh-<pid>.<start>-<random>-`: the creator's PID and start time (clock ticks since boot). */
const NAME_PATTERN = new RegExp(`^${NETNS_PREFIX}-(\\d+)\\.(\\d+)-([0-9a-f]+)-`);
/** The test-bed block: 198.18.0.0/15; hosts live in 198.18.0.0/24. */
const SUBNET_PREFIX = '198.18.0.';
const MAX_HOSTS = 253;
const FAULTS_TABLE = 'flinkish_faults';

export interface NetnsHostsOptions {
  /** How many hosts (1..253). */
  hosts: number;
  /** The `ip` binary (iproute2); `ip` on PATH by default. */
  ipCommand?: string;
  /** The `nft` binary (nftables); `nft` on PATH by default. */
  nftCommand?: string;
}

export interface PartitionOptions {
  /** Drop only what `from` sends to `to`; `to` still reaches `from` (default: both directions). */
  oneWay?: boolean;
}

/** A set of cut directions, removed by `heal()` (idempotent). */
export interface Partition {
  heal(): Promise<void>;
}

/** One host: a network namespace with an address and a local data directory. */
export class NetnsHost {
  private alive = true;

  constructor(
    private readonly net: NetnsHosts,
    /** `h0`, `h1`, ...: also the name of its switch port. */
    readonly name: string,
    /** The network namespace's name. */
    readonly namespace: string,
    /** Its address on the bridge, 198.18.0.x. */
    readonly address: string,
    /** Its "disk": deleted when the host is killed. */
    readonly dataDir: string,
  ) {}

  /** False between {@link kill} and {@link revive}. */
  get running(): boolean {
    return this.alive;
  }

  /** The argv prefix that runs a command inside this host. */
  commandPrefix(): string[] {
    return [this.net.ipCommand, 'netns', 'exec', this.namespace];
  }

  /** Start a compiled script (relative to dist/) with this Node, inside the host, through the launcher. */
  launch(script: string, options: Omit<LaunchOptions, 'command'> = {}): Promise<Proc> {
    return this.launchCommand(process.execPath, [path.join(distRoot, script), ...(options.args ?? [])], {
      ...options,
      name: `${this.name}/${options.name ?? path.basename(script)}`,
    });
  }

  /** Start any command inside the host through the launcher (`ip netns exec` execs it: its PID is the command's). */
  async launchCommand(command: string, args: string[], options: Omit<LaunchOptions, 'command' | 'args'> = {}): Promise<Proc> {
    this.net.assertUsable();
    if (!this.alive) throw new NetnsInvalidUseError(`host ${this.name} is killed: revive it before starting processes`);
    const [ip, ...prefix] = this.commandPrefix();
    return launch(command, { ...options, name: options.name ?? `${this.name}/${path.basename(command)}`, command: ip!, args: [...prefix, command, ...args] });
  }

  /** Run a short command inside the host to its end; resolves with its stdout. */
  async exec(command: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    this.net.assertUsable();
    const [ip, ...prefix] = this.commandPrefix();
    return (await run(ip!, [...prefix, command, ...args], options)).stdout;
  }

  /** PIDs of every process in this host's network namespace. */
  async pids(): Promise<number[]> {
    return parsePids((await run(this.net.ipCommand, ['netns', 'pids', this.namespace])).stdout);
  }

  /** Kill every process of the host (by PID), delete its data directory, and take it off the network. */
  async kill(): Promise<void> {
    this.net.assertUsable();
    this.alive = false;
    await this.net.ip(['-n', this.net.switchNamespace, 'link', 'set', this.name, 'down']);
    await waitFor(
      `every process of host ${this.name} gone`,
      async () => {
        const pids = await this.pids();
        for (const pid of pids) signal(pid, 'SIGKILL');
        return pids.length === 0;
      },
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    await rm(this.dataDir, { recursive: true, force: true });
  }

  /** Boot a killed host again: an empty data directory, back on the network. */
  async revive(): Promise<void> {
    this.net.assertUsable();
    await mkdir(this.dataDir, { recursive: true });
    await this.net.ip(['-n', this.net.switchNamespace, 'link', 'set', this.name, 'up']);
    this.alive = true;
  }

  /** Add or remove `from` in this host's set of peers whose packets are dropped on arrival. */
  async setCut(from: NetnsHost, cut: boolean): Promise<void> {
    await this.exec(this.net.nftCommand, [cut ? 'add' : 'delete', 'element', 'inet', FAULTS_TABLE, 'cut_from', `{ ${from.address} }`]);
  }
}

/** The hosts of one run, their switch, and their partitions. */
export class NetnsHosts {
  readonly hosts: NetnsHost[] = [];
  /** How many live partitions cut each direction, keyed `receiver<-sender`: a direction heals when none does. */
  private readonly cuts = new Map<string, number>();
  private destroyed = false;
  private destroying: Promise<void> | null = null;

  private constructor(
    readonly runId: string,
    readonly switchNamespace: string,
    readonly dataRoot: string,
    readonly ipCommand: string,
    readonly nftCommand: string,
  ) {}

  /** Every namespace of this run: the hosts', then the switch's. */
  get namespaces(): string[] {
    return [...this.hosts.map((h) => h.namespace), this.switchNamespace];
  }

  /**
   * Create `hosts` namespace hosts joined by a bridge. Fails with {@link NetnsUnavailableError}
   * saying what is missing when this machine cannot (not root, no `ip`, no `nft`).
   */
  static async create(options: NetnsHostsOptions): Promise<NetnsHosts> {
    const count = options.hosts;
    if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS) {
      throw new NetnsInvalidUseError(`hosts must be an integer from 1 to ${MAX_HOSTS}, got ${count}`);
    }
    const ipCommand = options.ipCommand ?? 'ip';
    const nftCommand = options.nftCommand ?? 'nft';
    await checkCapabilities(ipCommand, nftCommand);
    await sweepStaleNetnsHosts({ ipCommand });

    const started = processStartTicks(process.pid);
    if (started === null) throw new NetnsUnavailableError('/proc/self/stat is unreadable: namespace hosts need a mounted /proc');
    const runId = `${NETNS_PREFIX}-${process.pid}.${started}-${randomBytes(3).toString('hex')}`;
    const dataRoot = await mkdtemp(path.join(os.tmpdir(), `${runId}-`));
    const net = new NetnsHosts(runId, `${runId}-sw`, dataRoot, ipCommand, nftCommand);
    register(net);
    try {
      await net.build(count);
    } catch (err) {
      await net.destroy();
      if (err instanceof NetnsCommandError && !net.hosts.length) {
        throw new NetnsUnavailableError(`creating a network namespace failed (${err.message}); this needs root with CAP_SYS_ADMIN and CAP_NET_ADMIN`, { cause: err });
      }
      throw err;
    }
    return net;
  }

  private async build(count: number): Promise<void> {
    const sw = this.switchNamespace;
    await this.ip(['netns', 'add', sw]);
    await this.ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await this.ip(['-n', sw, 'link', 'set', 'br0', 'up']);
    for (let i = 0; i < count; i++) {
      const name = `h${i}`;
      const namespace = `${this.runId}-${name}`;
      const dataDir = path.join(this.dataRoot, name);
      await this.ip(['netns', 'add', namespace]);
      const host = new NetnsHost(this, name, namespace, `${SUBNET_PREFIX}${i + 1}`, dataDir);
      this.hosts.push(host);
      await mkdir(dataDir, { recursive: true });
      await this.ip(['-n', sw, 'link', 'add', name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
      await this.ip(['-n', sw, 'link', 'set', name, 'master', 'br0', 'up']);
      await this.ip(['-n', namespace, 'link', 'set', 'lo', 'up']);
      await this.ip(['-n', namespace, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
      await this.ip(['-n', namespace, 'link', 'set', 'eth0', 'up']);
      await host.exec(this.nftCommand, ['-f', '-'], {
        input: [
          `table inet ${FAULTS_TABLE} {`,
          '  set cut_from { type ipv4_addr; }',
          '  chain input { type filter hook input priority 0; policy accept; ip saddr @cut_from drop; }',
          '}',
        ].join('\n'),
      });
    }
  }

  /** Run `ip` with these arguments. */
  async ip(args: string[]): Promise<string> {
    return (await run(this.ipCommand, args)).stdout;
  }

  assertUsable(): void {
    if (this.destroyed) throw new NetnsInvalidUseError(`namespace hosts ${this.runId} are destroyed`);
  }

  /**
   * Cut traffic from every host of `from` to every host of `to` and, unless `oneWay`, back.
   * Partitions stack: a direction cut by two partitions passes again once both are healed.
   */
  async partition(from: NetnsHost | NetnsHost[], to: NetnsHost | NetnsHost[], options: PartitionOptions = {}): Promise<Partition> {
    this.assertUsable();
    const senders = [from].flat();
    const receivers = [to].flat();
    for (const host of [...senders, ...receivers]) {
      if (!this.hosts.includes(host)) throw new NetnsInvalidUseError(`host ${host.namespace} is not one of ${this.runId}`);
    }
    const directions: Array<[receiver: NetnsHost, sender: NetnsHost]> = [];
    for (const a of senders) {
      for (const b of receivers) {
        if (a === b) continue;
        directions.push([b, a]);
        if (!options.oneWay) directions.push([a, b]);
      }
    }
    const applied: typeof directions = [];
    for (const [receiver, sender] of directions) {
      await this.changeCut(receiver, sender, +1);
      applied.push([receiver, sender]);
    }
    let healed = false;
    return {
      heal: async () => {
        if (healed || this.destroyed) return;
        healed = true;
        for (const [receiver, sender] of applied) await this.changeCut(receiver, sender, -1);
      },
    };
  }

  /** Cut `host` off from every other host, both directions. */
  isolate(host: NetnsHost): Promise<Partition> {
    return this.partition(host, this.hosts.filter((h) => h !== host));
  }

  /** Remove every partition rule of this run. */
  async healAll(): Promise<void> {
    if (this.destroyed) return; // nothing left to heal
    for (const key of [...this.cuts.keys()]) {
      this.cuts.delete(key);
      const [receiver, sender] = key.split('<-').map((name) => this.hosts.find((h) => h.name === name)!);
      await receiver!.setCut(sender!, false);
    }
  }

  private async changeCut(receiver: NetnsHost, sender: NetnsHost, delta: 1 | -1): Promise<void> {
    const key = `${receiver.name}<-${sender.name}`;
    const before = this.cuts.get(key) ?? 0;
    if (delta < 0 && before === 0) return; // healed meanwhile by healAll
    const after = before + delta;
    if (after === 0) this.cuts.delete(key);
    else this.cuts.set(key, after);
    if (before === 0 || after === 0) await receiver.setCut(sender, after > 0);
  }

  /** Kill every process of every host and delete the namespaces, links and data. Idempotent. */
  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      this.destroyed = true;
      for (const namespace of this.namespaces) await removeNamespace(this.ipCommand, namespace);
      await rm(this.dataRoot, { recursive: true, force: true });
      unregister(this);
    })();
    return this.destroying;
  }

  /** {@link destroy} for exit and signal handlers. */
  destroySync(): void {
    this.destroyed = true;
    for (const namespace of this.namespaces) removeNamespaceSync(this.ipCommand, namespace);
    rmSync(this.dataRoot, { recursive: true, force: true });
    unregister(this);
  }
}

async function checkCapabilities(ipCommand: string, nftCommand: string): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new NetnsUnavailableError('not running as root: namespace hosts need root (CAP_SYS_ADMIN, CAP_NET_ADMIN); run the tests as root, as CI does');
  }
  try {
    await run(ipCommand, ['-V']);
  } catch (err) {
    throw new NetnsUnavailableError(`'${ipCommand}' cannot run: install iproute2 (apt-get install -y iproute2)`, { cause: err });
  }
  try {
    await run(nftCommand, ['--version']);
  } catch (err) {
    throw new NetnsUnavailableError(`'${nftCommand}' cannot run: install nftables (apt-get install -y nftables)`, { cause: err });
  }
}

function parsePids(stdout: string): number[] {
  return stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Kill every process in the namespace (by PID, until none is left), then delete it. */
async function removeNamespace(ipCommand: string, namespace: string): Promise<void> {
  const listed = await run(ipCommand, ['netns', 'list']);
  if (!namespaceNames(listed.stdout).includes(namespace)) return;
  await waitFor(
    `every process of namespace ${namespace} gone`,
    async () => {
      const pids = parsePids((await run(ipCommand, ['netns', 'pids', namespace])).stdout);
      for (const pid of pids) signal(pid, 'SIGKILL');
      return pids.length === 0;
    },
    { timeoutMs: 10_000 },
  );
  await run(ipCommand, ['netns', 'delete', namespace]);
}

function removeNamespaceSync(ipCommand: string, namespace: string): void {
  for (let round = 0; round < 50; round++) {
    const pids = parsePids(runSync(ipCommand, ['netns', 'pids', namespace]) ?? '');
    if (pids.length === 0) break;
    for (const pid of pids) signal(pid, 'SIGKILL');
    // A SIGKILLed process leaves its namespace only once the kernel has torn it down.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  runSync(ipCommand, ['netns', 'delete', namespace]);
}

/** `ip netns list` prints `name` or `name (id: N)` per line. */
function namespaceNames(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/**
 * When the process started, in clock ticks since boot (field 22 of /proc/PID/stat), or null if
 * there is no such process. With the PID, it names one process for the machine's uptime: a PID
 * reused by a later process has a later start.
 */
function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? null : (fields[19] ?? null);
  } catch {
    return null;
  }
}

/**
 * Remove namespaces and temp data dirs of ours (`fkh-<pid>.<start>-...`) whose creating process
 * is gone (no process with that PID and start time): what a SIGKILLed run left. Namespaces of live runs, and anything not named by us, are left alone.
 * Resolves with the namespaces removed.
 */
export async function sweepStaleNetnsHosts({ ipCommand = 'ip' }: { ipCommand?: string } = {}): Promise<string[]> {
  const stale = (name: string): boolean => {
    const match = NAME_PATTERN.exec(name);
    return match !== null && processStartTicks(Number(match[1])) !== match[2];
  };
  const removed = namespaceNames((await run(ipCommand, ['netns', 'list'])).stdout).filter(stale);
  for (const namespace of removed) await removeNamespace(ipCommand, namespace);
  for (const entry of readdirSync(os.tmpdir())) {
    if (stale(entry)) rmSync(path.join(os.tmpdir(), entry), { recursive: true, force: true });
  }
  return removed;
}

/** Namespace names of ours (any run) that exist now. */
export async function listOurNamespaces({ ipCommand = 'ip' }: { ipCommand?: string } = {}): Promise<string[]> {
  return namespaceNames((await run(ipCommand, ['netns', 'list'])).stdout).filter((n) => NAME_PATTERN.test(n));
}

// Every live set of hosts is destroyed on exit and on SIGINT/SIGTERM.
const live = new Set<NetnsHosts>();
let handlersInstalled = false;

function register(net: NetnsHosts): void {
  live.add(net);
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', destroyAllSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      destroyAllSync();
      // Alone, the handler would swallow the signal: die of it as the default would.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

function unregister(net: NetnsHosts): void {
  live.delete(net);
}

function destroyAllSync(): void {
  for (const net of [...live]) net.destroySync();
}

