/**
 * Host addresses of servers: what a process binds (`host`) and what it tells its peers
 * (`advertisedHost`). A bind address may be a wildcard (every interface); an advertised one
 * never is, because peers on other machines dial it. Node ids, data addresses and REST
 * addresses are `host:port`, with an IPv6 literal in brackets (`[::1]:6123`).
 */
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
const HOST_NAME = /^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/** `[::1]` → `::1`; other values unchanged. */
function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** `0.0.0.0` or `::` (in any spelling): binds every interface, names no one. */
export function isWildcardHost(host: string): boolean {
  const h = unbracket(host);
  if (isIP(h) === 4) return h === '0.0.0.0';
  return isIP(h) === 6 && /^[0:]+$/.test(h);
}

/** What is wrong with `value` as a host (an IP address or a host name, without a port); null when fine. */
export function hostProblem(value: string): string | null {
  if (typeof value !== 'string') return `must be a string, got ${JSON.stringify(value)}`;
  if (value.length === 0) return 'must not be empty: give an IP address or a host name';
  if (/\s/.test(value)) return `must hold no whitespace, got ${JSON.stringify(value)}`;
  if (value.includes('://') || value.includes('/')) return `must be a host alone, not a URL or a path, got '${value}'`;
  const h = unbracket(value);
  if (isIP(h) !== 0) return null;
  if (/^\[.*\]:\d+$/.test(value) || /^[^:]+:\d+$/.test(value)) {
    return `must be a host without a port, got '${value}' (ports have their own keys: masterPort, restPort, metricsPort)`;
  }
  if (h.includes(':')) return `is not a valid IPv6 address, got '${value}'`;
  if (/^[\d.]+$/.test(h)) return `is not a valid IPv4 address, got '${value}'`;
  if (!HOST_NAME.test(h)) return `must be an IP address or a host name (letters, digits, '-' and '.'), got '${value}'`;
  return null;
}

/**
 * Check the bind and the advertised host of a process; returns both, normalized (IPv6
 * without brackets), with the advertised host defaulting to the bind host. `keys` name the
 * settings in errors: the config keys, or the options of whoever calls.
 */
export function resolveHosts(
  host: string,
  advertisedHost: string | undefined,
  keys: { host: string; advertisedHost: string; hint: string } = { host: 'host', advertisedHost: 'advertisedHost', hint: 'advertisedHost' },
): { host: string; advertisedHost: string } {
  const bindProblem = hostProblem(host);
  if (bindProblem) throw new ConfigError(keys.host, bindProblem);
  if (advertisedHost === undefined || advertisedHost === '') {
    if (isWildcardHost(host)) {
      throw new ConfigError(
        keys.advertisedHost,
        `${keys.host} is ${host}, every interface, which tells peers nothing: set ${keys.hint} to the address or name other hosts reach this process at`,
      );
    }
    return { host: unbracket(host), advertisedHost: unbracket(host) };
  }
  const advertisedProblem = hostProblem(advertisedHost);
  if (advertisedProblem) throw new ConfigError(keys.advertisedHost, advertisedProblem);
  if (isWildcardHost(advertisedHost)) {
    throw new ConfigError(keys.advertisedHost, `must be an address peers can dial, not the wildcard ${advertisedHost}; set it to this host's address or name`);
  }
  return { host: unbracket(host), advertisedHost: unbracket(advertisedHost) };
}

/** `host:port`, with an IPv6 literal in brackets. */
export function formatHostPort(host: string, port: number): string {
  const h = unbracket(host);
  return isIP(h) === 6 ? `[${h}]:${port}` : `${h}:${port}`;
}

/** Parse `host:port` or `[v6]:port` (port 1-65535, a valid host); null when it is not one. */
export function parseHostPort(address: string): { host: string; port: number } | null {
  const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(address);
  if (!match) return null;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return null;
  const host = match[1]!;
  if (hostProblem(host) !== null) return null;
  // Brackets hold IPv6 literals only.
  if (host.startsWith('[') && isIP(unbracket(host)) !== 6) return null;
  return { host: unbracket(host), port };
}
