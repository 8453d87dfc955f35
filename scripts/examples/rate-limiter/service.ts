/**
 * The rate-limiter service: every process is a candidate host of the limiter singleton and
 * serves `GET /take?key=K` over HTTP (200 allowed, 429 limited, 503 while no host answers).
 *
 * Run: `ETCD_ENDPOINTS=http://127.0.0.1:2379 node dist/scripts/examples/rate-limiter/service.js`
 * Env: CAPACITY (10), REFILL_PER_SECOND (1), HTTP_PORT (0: ephemeral), GROUP, LEASE_TTL.
 */
import http from 'node:http';
import { once } from 'node:events';
import { RuntimeError } from '../../../lib/index.js';
import { print, startExampleNode } from '../support/node.js';
import { limiterMachine, limiterPersistence, type LimiterMessage } from './limiter.js';

const env = process.env;
const node = await startExampleNode('rate-limiter');
const limiter = node.singletons.start('limiter', limiterMachine, {
  input: (singletonEnv) => ({
    env: singletonEnv,
    config: { capacity: Number(env['CAPACITY'] ?? 10), refillPerSecond: Number(env['REFILL_PER_SECOND'] ?? 1) },
  }),
  persistence: { store: node.store, ...limiterPersistence },
});

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const key = url.searchParams.get('key');
  if (url.pathname !== '/take' || !key) {
    res.writeHead(404).end();
    return;
  }
  const send = (status: number, body: Record<string, unknown>): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ ...body, host: limiter.host }));
  };
  limiter.ask({ type: 'limiter.take', key } satisfies Omit<LimiterMessage, 'replyTo'>, { timeoutMs: 2000 }).then(
    (verdict) => send(verdict.allowed ? 200 : 429, { ...verdict }),
    (err: unknown) => send(503, { code: err instanceof RuntimeError ? err.code : 'ERROR', message: String(err) }),
  );
});
server.listen(Number(env['HTTP_PORT'] ?? 0), env['FLINKISH_HOST'] || '127.0.0.1');
await once(server, 'listening');
const port = (server.address() as { port: number }).port;
process.on('SIGTERM', () => server.close());
print({ ready: true, node: node.system.node, httpPort: port, pid: process.pid });
