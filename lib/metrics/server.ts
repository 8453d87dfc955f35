/** The `/metrics` endpoint of a process (Prometheus text format), on its own port. */
import { createServer } from 'node:http';
import { allowedHostNames, closeServer, deadlineOptions, DEFAULT_MAX_CONNECTIONS, hostNotAllowed, isAllowedHost, listen, send, sendJson } from '../rest/http.js';
import type { Logger } from '../logging.js';
import type { RuntimeMetrics } from './registry.js';

export interface MetricsServer {
  /** `host:port` it listens on. */
  address: string;
  close(): Promise<void>;
}

export async function startMetricsServer(options: {
  /** Bind address. */
  host: string;
  /** The host in the reported address; default: the bound address. */
  advertisedHost?: string;
  port: number;
  metrics: RuntimeMetrics;
  log: Logger;
  allowedHosts?: readonly string[];
}): Promise<MetricsServer> {
  const { metrics, log } = options;
  // The same guards as the REST API: deadlines, a connection cap, the Host check.
  const hosts = allowedHostNames(options.host, [...(options.advertisedHost ? [options.advertisedHost] : []), ...(options.allowedHosts ?? [])]);
  const server = createServer(deadlineOptions(), (req, res) => {
    if (!isAllowedHost(req.headers.host, hosts)) {
      const refused = hostNotAllowed(req.headers.host);
      return sendJson(res, refused.status, refused.body());
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'metrics are at /metrics' } });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'GET /metrics' } }, { allow: 'GET, HEAD' });
    }
    metrics.render().then(
      (text) => send(res, 200, metrics.contentType, text),
      (err: Error) => {
        log.warn({ err }, 'metrics scrape failed');
        sendJson(res, 500, { error: { code: 'INTERNAL', message: 'could not render the metrics' } });
      },
    );
  });
  server.maxConnections = DEFAULT_MAX_CONNECTIONS;
  const address = await listen(server, options.host, options.port, options.advertisedHost);
  return { address, close: () => closeServer(server) };
}
