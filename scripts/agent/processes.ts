/**
 * The flinkish processes of this host, as the agent sees them in /proc. A process counts only if
 * it is verifiably one of ours:
 * - it is in the agent's network namespace (on a machine, every process; on a namespace test
 *   host, the host's own);
 * - its executable is a Node binary and its script (argv[1], resolved against its working
 *   directory, symlinks followed) is `scripts/cli.js` of the agent's own dist/;
 * - its subcommand is `master` or `taskexecutor`.
 * Any other pid, this agent's included, is refused: the agent signals nothing else.
 */
import { readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentProcess, AgentProcessRole } from './protocol.js';

/** The CLI whose cluster processes the agent may signal: the one of its own dist/. */
export const FLINKISH_CLI = realpathSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli.js'));

/** Global CLI options that take a value (scripts/cli.ts): what comes after them is no subcommand. */
const VALUE_OPTIONS = new Set(['-c', '--config', '--log-level', '-m', '--master', '--secret', '--client-secret', '--cluster-id', '--etcd', '--connect-timeout-ms']);
const ROLES: ReadonlySet<string> = new Set<AgentProcessRole>(['master', 'taskexecutor']);

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function link(file: string): string | null {
  try {
    return readlinkSync(file);
  } catch {
    return null;
  }
}

/** Field 22 of /proc/PID/stat (start time, clock ticks since boot), or null for no such (or a zombie) process. */
export function startTicksOf(pid: number): string | null {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] === 'Z' ? null : (fields[19] ?? null);
}

/** The subcommand of a `cli.js` command line (after the global options), or null. */
function subcommandOf(args: readonly string[]): string | null {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (VALUE_OPTIONS.has(arg)) {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    return arg;
  }
  return null;
}

/** The role of `pid` if it is a flinkish process of this host (see the header), else null. */
export function flinkishRoleOf(pid: number): AgentProcessRole | null {
  if (!Number.isSafeInteger(pid) || pid < 2 || pid === process.pid) return null;
  const ownNet = link('/proc/self/ns/net');
  if (ownNet === null || link(`/proc/${pid}/ns/net`) !== ownNet) return null;
  const exe = link(`/proc/${pid}/exe`);
  if (exe === null || !/^node(js)?[\d.]*$/.test(path.basename(exe.replace(/ \(deleted\)$/, '')))) return null;
  const cmdline = read(`/proc/${pid}/cmdline`);
  if (!cmdline) return null;
  const argv = cmdline.split('\0');
  if (argv.at(-1) === '') argv.pop();
  const script = argv[1];
  if (!script) return null;
  const cwd = link(`/proc/${pid}/cwd`);
  if (cwd === null) return null;
  let resolved: string;
  try {
    resolved = realpathSync(path.resolve(cwd, script));
  } catch {
    return null;
  }
  if (resolved !== FLINKISH_CLI) return null;
  const role = subcommandOf(argv.slice(2));
  return role !== null && ROLES.has(role) ? (role as AgentProcessRole) : null;
}

/** The flinkish process `pid` started at `startTicks`, or null: not ours, gone, or its pid reused since. */
export function verifiedProcess(pid: number, startTicks: string): AgentProcessRole | null {
  const role = flinkishRoleOf(pid);
  return role !== null && startTicksOf(pid) === startTicks ? role : null;
}

/** Every flinkish process of this host, with the addresses it listens on. */
export function listFlinkishProcesses(): AgentProcess[] {
  const out: AgentProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const role = flinkishRoleOf(pid);
    const startTicks = role === null ? null : startTicksOf(pid);
    if (role === null || startTicks === null) continue;
    out.push({ pid, startTicks, role, listening: listeningAddresses(pid) });
  }
  return out;
}

/** TCP addresses `pid` listens on: its socket inodes matched against its namespace's /proc/net/tcp{,6}. */
export function listeningAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  for (const fd of fds) {
    const target = link(`/proc/${pid}/fd/${fd}`);
    const match = target && /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.add(match[1]!);
  }
  const out: string[] = [];
  for (const [file, v6] of [[`/proc/${pid}/net/tcp`, false], [`/proc/${pid}/net/tcp6`, true]] as const) {
    for (const line of (read(file) ?? '').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st ... inode (field 9); st 0A is LISTEN.
      if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9]!)) continue;
      const [hexHost, hexPort] = f[1]!.split(':') as [string, string];
      const port = parseInt(hexPort, 16);
      out.push(v6 ? `[${ipv6FromProc(hexHost)}]:${port}` : `${ipv4FromProc(hexHost)}:${port}`);
    }
  }
  return out;
}

/** /proc/net/tcp writes an IPv4 address as one 32-bit word in host (little-endian) order. */
function ipv4FromProc(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  return [bytes[3], bytes[2], bytes[1], bytes[0]].join('.');
}

/** /proc/net/tcp6: four 32-bit words, each in host order. A v4-mapped address comes out as ::ffff:a.b.c.d. */
function ipv6FromProc(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  for (let w = 0; w < 16; w += 4) bytes.subarray(w, w + 4).reverse();
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
}
