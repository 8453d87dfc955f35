/**
 * The agent's partition rules: nftables, in a table of its own (`inet flinkish_agent`), never
 * touching any other. Peers to drop are elements of four sets (from/to × IPv4/IPv6) with a
 * kernel timeout, so a rule expires by itself even if the agent and its drill die; `heal`
 * flushes the sets and `close` deletes the table.
 *
 * The agent's own port is accepted before the drops: a drill that cuts this host off can still
 * heal it.
 */
import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { AgentError, AgentErrorCode } from './errors.js';
import type { PartitionDirection } from './protocol.js';

export const AGENT_TABLE = 'flinkish_agent';
/** At most this many peers per set: a peer cannot make the agent's state grow without bound. */
export const MAX_RULES = 64;
/** No rule outlives this (10 minutes): a forgotten partition heals itself. */
export const MAX_RULE_MS = 10 * 60_000;

function nft(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('nft', args, { timeout: 10_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new AgentError(AgentErrorCode.FirewallFailed, `nft ${args.join(' ')} failed: ${(stderr || err.message).trim()}`, { cause: err }));
      else resolve(stdout);
    });
    child.stdin?.end(input ?? '');
  });
}

/** What is wrong with `peer` as another host's address, or null. */
export function peerProblem(peer: string): string | null {
  const family = isIP(peer);
  if (family === 0) return `'${peer.slice(0, 64)}' is not an IP address`;
  if (family === 4 && (peer.startsWith('127.') || peer === '0.0.0.0')) return `${peer} is this host's own (loopback or wildcard), not a peer`;
  if (family === 6 && (/^[0:]+1?$/.test(peer) || peer.toLowerCase().startsWith('::ffff:'))) return `${peer} is loopback, wildcard or v4-mapped: give the peer's plain address`;
  return null;
}

export class Firewall {
  /** `direction/peer` → expiry: what is installed, to bound it and count a heal. */
  private readonly rules = new Map<string, number>();

  private constructor(private readonly agentPort: number) {}

  /** Create (or recreate, empty) the agent's table. Fails with AGENT_UNAVAILABLE without nft or its rights. */
  static async open(agentPort: number): Promise<Firewall> {
    const firewall = new Firewall(agentPort);
    try {
      await nft(['-f', '-'], firewall.tableDefinition());
    } catch (err) {
      throw new AgentError(AgentErrorCode.Unavailable, `cannot install the agent's nftables table (the agent needs root and nftables: apt-get install -y nftables): ${(err as Error).message}`, { cause: err });
    }
    return firewall;
  }

  private tableDefinition(): string {
    const set = (name: string, type: string) => `  set ${name} { type ${type}; flags timeout; size ${MAX_RULES}; }`;
    return [
      // Add-then-delete: recreates the table whether or not a previous agent left one.
      `table inet ${AGENT_TABLE} {}`,
      `delete table inet ${AGENT_TABLE}`,
      `table inet ${AGENT_TABLE} {`,
      set('from4', 'ipv4_addr'),
      set('from6', 'ipv6_addr'),
      set('to4', 'ipv4_addr'),
      set('to6', 'ipv6_addr'),
      `  chain input { type filter hook input priority -10; policy accept; tcp dport ${this.agentPort} accept; ip saddr @from4 drop; ip6 saddr @from6 drop; }`,
      `  chain output { type filter hook output priority -10; policy accept; tcp sport ${this.agentPort} accept; ip daddr @to4 drop; ip6 daddr @to6 drop; }`,
      '}',
    ].join('\n');
  }

  /** Drop traffic from and/or to `peer` for `ms` (capped at {@link MAX_RULE_MS}). */
  async partition(peer: string, direction: PartitionDirection, ms: number): Promise<number> {
    const problem = peerProblem(peer);
    if (problem) throw new AgentError(AgentErrorCode.BadPeer, problem, { details: { peer } });
    const expiresInMs = Math.min(ms, MAX_RULE_MS);
    const now = Date.now();
    for (const [key, expiry] of this.rules) if (expiry <= now) this.rules.delete(key);
    const sides = direction === 'both' ? (['from', 'to'] as const) : [direction];
    const fresh = sides.filter((side) => !this.rules.has(`${side}/${peer}`));
    if (this.rules.size + fresh.length > MAX_RULES * 2) {
      throw new AgentError(AgentErrorCode.TooManyRules, `the agent holds ${this.rules.size} partition rules, the most it keeps is ${MAX_RULES * 2}: heal first`);
    }
    const family = isIP(peer) === 4 ? '4' : '6';
    const seconds = Math.ceil(expiresInMs / 1000);
    // One transaction: both directions or neither. Deleting first renews an element's timeout.
    const script = sides.flatMap((side) => [
      `add element inet ${AGENT_TABLE} ${side}${family} { ${peer} timeout ${seconds}s }`,
    ]);
    for (const side of sides.filter((s) => this.rules.has(`${s}/${peer}`))) script.unshift(`delete element inet ${AGENT_TABLE} ${side}${family} { ${peer} }`);
    await nft(['-f', '-'], script.join('\n'));
    for (const side of sides) this.rules.set(`${side}/${peer}`, now + seconds * 1000);
    return seconds * 1000;
  }

  /** Remove every rule; resolves with how many were in force. */
  async heal(): Promise<number> {
    const now = Date.now();
    const removed = [...this.rules.values()].filter((expiry) => expiry > now).length;
    await nft(['-f', '-'], ['from4', 'from6', 'to4', 'to6'].map((set) => `flush set inet ${AGENT_TABLE} ${set}`).join('\n'));
    this.rules.clear();
    return removed;
  }

  /** Delete the table (the agent stops). */
  async close(): Promise<void> {
    this.rules.clear();
    await nft(['delete', 'table', 'inet', AGENT_TABLE]).catch(() => undefined);
  }
}
