/** Small helpers shared by the REST and metrics servers (node:http, no framework). */
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpError, RestErrorCode } from './errors.js';
import { formatHostPort, isWildcardHost } from '../util/host-address.js';

/**
 * Listen on `host:port` (0: a free port); resolves with `advertisedHost:port`, the address to
 * tell others (without an advertised host, the bound address).
 */
export function listen(server: Server, host: string, port: number, advertisedHost?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      resolve(formatHostPort(advertisedHost || address.address, address.port));
    });
  });
}

/** Close the server and every connection it still holds (keep-alive clients would delay it). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

const COMMON_HEADERS = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };

export function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...COMMON_HEADERS, 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), headers);
}

/** Read a request body of at most `limit` bytes as JSON; an empty body is `undefined`. */
export async function readJson(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, RestErrorCode.PayloadTooLarge, `request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, RestErrorCode.BadRequest, 'request body is not valid JSON');
  }
}

/**
 * Loopback names, the bound host and the configured extra names (the advertised host among
 * them), lower case, without brackets. A wildcard names no one, so it is never a valid `Host`.
 */
export function allowedHostNames(host: string, extra: readonly string[]): Set<string> {
  const names = ['localhost', '127.0.0.1', '::1', host, ...extra].filter((h) => h !== '' && !isWildcardHost(h));
  return new Set(names.map((h) => h.toLowerCase().replace(/^\[(.*)\]$/, '$1')));
}

/** The name in a `Host` header (`name`, `name:port`, `[v6]:port`), lower case. */
function hostName(header: string): string {
  const value = header.trim().toLowerCase();
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    return end > 0 ? value.slice(1, end) : value;
  }
  const colon = value.lastIndexOf(':');
  return colon >= 0 ? value.slice(0, colon) : value;
}

/**
 * Whether a `Host` header names this server: a page of another site that rebinds its DNS name
 * to 127.0.0.1 sends its own name, and is refused before any work.
 */
export function isAllowedHost(header: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (header === undefined) return false;
  const name = hostName(header);
  // Any 127.x.y.z literal is this machine too; a name that merely resolves there is not trusted.
  return allowed.has(name) || /^127(\.\d{1,3}){3}$/.test(name);
}

export function hostNotAllowed(header: string | undefined): HttpError {
  return new HttpError(403, RestErrorCode.HostNotAllowed, `Host '${(header ?? '').slice(0, 100)}' is not a name of this server; add it to restAllowedHosts (FLINKISH_REST_ALLOWED_HOSTS) to allow it`);
}

export const DEFAULT_REQUEST_DEADLINE_MS = 10_000;
export const DEFAULT_MAX_CONNECTIONS = 128;

/**
 * Deadlines for receiving a request: its headers, and the whole request with its body (408 and
 * closed after). Answering is not limited. Node checks them only every
 * `connectionsCheckingInterval` (30 s by default), so that is a fraction of the deadline.
 */
export function deadlineOptions(headersTimeoutMs = DEFAULT_REQUEST_DEADLINE_MS, requestTimeoutMs = DEFAULT_REQUEST_DEADLINE_MS): ServerOptions {
  const headersTimeout = headersTimeoutMs;
  return {
    headersTimeout,
    requestTimeout: Math.max(headersTimeout, requestTimeoutMs),
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 4))),
  };
}
