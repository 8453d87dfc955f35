/** The `/metrics` endpoint of a process (Prometheus text format), on its own port. */
import { createServer } from 'node:http';
import { closeServer, listen, send, sendJson } from '../rest/http.js';
import type { Logger } from '../logging.js';
import type { RuntimeMetrics } from './registry.js';

export interface MetricsServer {
  /** `host:port` it listens on. */
  address: string;
  close(): Promise<void>;
}

export async function startMetricsServer(options: { host: string; port: number; metrics: RuntimeMetrics; log: Logger }): Promise<MetricsServer> {
  const { metrics, log } = options;
  const server = createServer((req, res) => {
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
  const address = await listen(server, options.host, options.port);
  return { address, close: () => closeServer(server) };
}
