/**
 * The REST API and the dashboard of a Master process (node:http, JSON). Every Master serves
 * it: the leader answers, a standby points to the leader (421 with `leader`, or 503 while no
 * leader is known) and still answers GET /api/leader. Read-only endpoints are open; bind it to
 * loopback (the default) or put it behind a proxy that does TLS and access control.
 *
 * Against slow or hostile clients: a request's headers and its whole body must arrive within
 * deadlines (408 and the connection closed otherwise), open connections are capped, and the
 * `Host` header must name this server (loopback names, `host`, or `allowedHosts`), so that a
 * page of another site cannot read the API through DNS rebinding (403 HOST_NOT_ALLOWED).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from '../logging.js';
import { DASHBOARD_ASSETS } from '../dashboard/assets.js';
import { HttpError, RestErrorCode, notFound, toHttpError } from './errors.js';
import type { MasterGateway } from './gateway.js';
import { allowedHostNames, closeServer, deadlineOptions, DEFAULT_MAX_CONNECTIONS, hostNotAllowed, isAllowedHost, listen, send, sendJson } from './http.js';
import type { LeaderTracker } from './leadership.js';
import { apiRoutes, type Route } from './routes.js';
import type { Router } from './router.js';
import { SeriesStore } from '../dashboard/series.js';
import { realClock } from '../util/clock.js';

export interface RestServerOptions {
  /** Bind address. */
  host: string;
  /** The host in the address this server reports (and the Master publishes); default: the bound address. */
  advertisedHost?: string;
  /** 0 picks a free port. */
  port: number;
  /** Bearer token of the mutating endpoints; empty turns them off (403). */
  token: string;
  gateway: MasterGateway;
  leadership: LeaderTracker;
  log: Logger;
  now?: () => number;
  /** Host names the `Host` header may carry besides loopback names and `host`. */
  allowedHosts?: readonly string[];
  /** Directories a savepoint target may lie in (none: only the Master's default is used). */
  savepointRoots?: readonly string[];
  /** Deadline to receive a request's headers (default 10 s). */
  headersTimeoutMs?: number;
  /** Deadline to receive a whole request, body included (default 10 s); answering is not limited. */
  requestTimeoutMs?: number;
  /** Open connections at most (default 128); more are closed as they arrive. */
  maxConnections?: number;
  /** The time series the leader samples (default: an empty store nobody fills). */
  series?: SeriesStore;
}



export interface RestServer {
  /** `advertisedHost:port`: where others reach it. */
  address: string;
  close(): Promise<void>;
}

/**
 * @example
 * const rest = await startRestServer({ host: '127.0.0.1', port: 0, token, log,
 *   gateway: new MasterGateway(system.ref(system.node, 'master')), leadership });
 * console.log(`dashboard at http://${rest.address}/`);
 */
export async function startRestServer(options: RestServerOptions): Promise<RestServer> {
  const router = apiRoutes({
    gateway: options.gateway,
    leadership: options.leadership,
    token: options.token,
    now: options.now ?? realClock.now,
    savepointRoots: options.savepointRoots ?? [],
    series: options.series ?? new SeriesStore(),
  });
  const hosts = allowedHostNames(options.host, [...(options.advertisedHost ? [options.advertisedHost] : []), ...(options.allowedHosts ?? [])]);
  const server = createServer(deadlineOptions(options.headersTimeoutMs, options.requestTimeoutMs), (req, res) => {
    handle(req, res, router, options, hosts).catch((err: unknown) => {
      const error = toHttpError(err);
      if (error.status >= 500) options.log.warn({ err: (error.cause as Error | undefined) ?? error, url: req.url }, 'REST request failed');
      if (!res.headersSent) sendJson(res, error.status, error.body(), error.headers);
      else res.destroy();
    });
  });
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const address = await listen(server, options.host, options.port, options.advertisedHost);
  options.log.info({ rest: address }, 'REST API and dashboard listening');
  return { address, close: () => closeServer(server) };
}

async function handle(req: IncomingMessage, res: ServerResponse, router: Router<Route>, options: RestServerOptions, hosts: ReadonlySet<string>): Promise<void> {
  if (!isAllowedHost(req.headers.host, hosts)) throw hostNotAllowed(req.headers.host);
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const method = req.method ?? 'GET';
  if (!path.startsWith('/api')) return serveAsset(res, method, path);
  const match = router.match(method, path);
  if (match.kind === 'none') throw notFound(`no endpoint ${path}`);
  if (match.kind === 'method') {
    const allow = match.allowed.join(', ');
    throw new HttpError(405, RestErrorCode.MethodNotAllowed, `${method} is not allowed on ${path}; allowed: ${allow}`, {}, { allow });
  }
  if (match.handler.leaderOnly) requireLeader(options.leadership);
  const answer = await match.handler.handle({ req, params: match.params });
  sendJson(res, answer.status ?? 200, answer.body);
}

/** A standby cannot answer: it names the leader (421: ask there) or says there is none (503). */
function requireLeader(leadership: LeaderTracker): void {
  if (leadership.isLeader) return;
  const leader = leadership.current();
  if (leader) throw new HttpError(421, RestErrorCode.NotLeader, `this Master is a standby; the leader is ${leader.url ?? leader.node}; ask there`, { leader });
  throw new HttpError(503, RestErrorCode.NoLeader, 'no leader is known yet; retry shortly', { leader: null }, { 'retry-after': '1' });
}

function serveAsset(res: ServerResponse, method: string, path: string): void {
  const asset = DASHBOARD_ASSETS[path === '/' ? '/index.html' : path];
  if (!asset) throw notFound(`no page ${path}`);
  if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, RestErrorCode.MethodNotAllowed, `${method} is not allowed on ${path}`, {}, { allow: 'GET, HEAD' });
  // Everything comes from this server: no external resources, no inline script.
  send(res, 200, asset.contentType, asset.body, { 'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'" });
}
