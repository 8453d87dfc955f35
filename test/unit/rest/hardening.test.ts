/**
 * The REST server against hostile clients (issue 11, finding 10): slow headers and slow bodies
 * are cut off, connections are capped, a foreign Host header is refused, and savepoint targets
 * stay inside the configured roots. Real sockets on loopback against the real server.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { RuntimeError } from '../../../lib/errors.js';
import { createLogger } from '../../../lib/logging.js';
import type { MasterGateway } from '../../../lib/rest/gateway.js';
import { LeaderTracker } from '../../../lib/rest/leadership.js';
import { startRestServer, type RestServer, type RestServerOptions } from '../../../lib/rest/server.js';
import { waitFor } from '../../support/wait.js';
import { startMetricsServer } from '../../../lib/metrics/server.js';
import { RuntimeMetrics } from '../../../lib/metrics/registry.js';

const TOKEN = 'a-test-token-0123456789';
const ROOT = '/tmp/flinkish-savepoint-root';

/** A gateway that knows no jobs and records the savepoint targets it was asked for. */
function testingGateway(targets: Array<string | undefined>, jobsDelay: { ms: number }): MasterGateway {
  return {
    jobs: async () => {
      if (jobsDelay.ms > 0) await new Promise((resolve) => setTimeout(resolve, jobsDelay.ms));
      return { summaries: [], details: new Map() };
    },
    savepoint: async (id: string, options: { dir?: string }) => {
      targets.push(options.dir);
      throw new RuntimeError('UNKNOWN_JOB', `no job with id ${id}`);
    },
  } as unknown as MasterGateway;
}

/** A raw connection that records what the server sent and when it closed. */
function rawClient(address: string): Promise<{ socket: Socket; received: () => string; closed: () => boolean }> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    let data = '';
    let closed = false;
    const socket = connect({ host: host!, port: Number(port) }, () => resolve({ socket, received: () => data, closed: () => closed }));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('close', () => (closed = true));
    socket.once('error', reject);
  });
}

/** One request with a chosen Host header (fetch does not let a caller set it). */
function getWithHost(address: string, path: string, host: string): Promise<{ status: number; body: { error?: { code: string } } }> {
  const [hostname, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port: Number(port), path, headers: { host } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { error?: { code: string } } }));
    });
    req.once('error', reject);
    req.end();
  });
}

describe('rest server - hardening against slow, foreign and path-escaping clients', () => {
  let server: RestServer | undefined;
  const sockets: Socket[] = [];
  const targets: Array<string | undefined> = [];
  /** How long the Master takes to list jobs: a slow endpoint. */
  const jobsDelay = { ms: 0 };

  async function start(extra: Partial<RestServerOptions> = {}): Promise<string> {
    const leadership = new LeaderTracker('127.0.0.1:1');
    leadership.granted('1');
    server = await startRestServer({
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      gateway: testingGateway(targets, jobsDelay),
      leadership,
      log: createLogger({ name: 'test', level: 'silent' }),
      savepointRoots: [ROOT],
      ...extra,
    });
    return server.address;
  }
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    jobsDelay.ms = 0;
    await server?.close();
    server = undefined;
  });

  it('cuts off a client whose headers never end, and one whose body never ends (408, closed)', async () => {
    const address = await start({ headersTimeoutMs: 300, requestTimeoutMs: 300 });
    const slowHeaders = await rawClient(address);
    const slowBody = await rawClient(address);
    sockets.push(slowHeaders.socket, slowBody.socket);
    slowHeaders.socket.write('GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    slowBody.socket.write(
      `POST /api/jobs/j1/savepoints HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"cancel`,
    );
    // The default deadlines (10 s) would outlast this wait: only the configured ones pass it.
    await waitFor('both slow clients to be cut off', () => slowHeaders.closed() && slowBody.closed(), { timeoutMs: 5000 });
    assert.match(slowHeaders.received(), /^HTTP\/1\.1 408/);
    assert.match(slowBody.received(), /^HTTP\/1\.1 408/);
    assert.deepEqual(targets, [], 'the unfinished request reached no endpoint');
  });

  it('answers a slow endpoint after the request has arrived (the deadline is on receiving only)', async () => {
    const address = await start({ headersTimeoutMs: 200, requestTimeoutMs: 200 });
    jobsDelay.ms = 1000;
    const res = await fetch(`http://${address}/api/jobs`);
    assert.equal(res.status, 200);
  });

  it('caps open connections: one over the cap is closed at once', async () => {
    const address = await start({ maxConnections: 2 });
    const held = [await rawClient(address), await rawClient(address)];
    sockets.push(...held.map((c) => c.socket));
    for (const c of held) c.socket.write('GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const extra = await rawClient(address);
    sockets.push(extra.socket);
    await waitFor('the connection over the cap to be closed', () => extra.closed(), { timeoutMs: 5000 });
    assert.ok(held.every((c) => !c.closed()), 'the connections within the cap stay open');
  });

  it('refuses a Host header that names another site (DNS rebinding), on API and dashboard alike', async () => {
    const address = await start({ allowedHosts: ['flinkish.internal'] });
    const port = address.split(':')[1];
    for (const path of ['/api/jobs', '/api/leader', '/']) {
      const refused = await getWithHost(address, path, `rebind.attacker.example:${port}`);
      assert.deepEqual([refused.status, refused.body.error?.code], [403, 'HOST_NOT_ALLOWED'], path);
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `flinkish.internal:${port}`, 'LOCALHOST']) {
      assert.equal((await getWithHost(address, '/api/jobs', host)).status, 200, host);
    }
  });

  it('refuses savepoint targets outside the roots, .. segments included; a target inside reaches the Master normalized', async () => {
    const address = await start();
    const post = async (targetDirectory: string) => {
      const res = await fetch(`http://${address}/api/jobs/j1/savepoints`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ targetDirectory }),
      });
      return [res.status, ((await res.json()) as { error: { code: string } }).error.code];
    };
    for (const outside of ['/etc/cron.d', `${ROOT}/../../etc`, `${ROOT}-sibling/x`, '/']) {
      assert.deepEqual(await post(outside), [403, 'PATH_OUTSIDE_ROOTS'], outside);
    }
    assert.deepEqual(targets, [], 'no refused target reached the Master');
    assert.deepEqual(await post(`${ROOT}/a/../b`), [404, 'UNKNOWN_JOB']);
    assert.deepEqual(targets, [`${ROOT}/b`]);
  });

  it('the metrics endpoint refuses a foreign Host header too', async () => {
    const served = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics: new RuntimeMetrics(), log: createLogger({ name: 'test', level: 'silent' }) });
    try {
      const port = served.address.split(':')[1];
      assert.deepEqual((await getWithHost(served.address, '/metrics', `rebind.attacker.example:${port}`)).status, 403);
      assert.equal((await fetch(`http://${served.address}/metrics`)).status, 200);
    } finally {
      await served.close();
    }
  });
});
