import assert from 'node:assert/strict';
import { RuntimeError } from '../../../lib/errors.js';
import { createLogger } from '../../../lib/logging.js';
import type { MasterGateway } from '../../../lib/rest/gateway.js';
import { LeaderTracker } from '../../../lib/rest/leadership.js';
import { startRestServer, type RestServer } from '../../../lib/rest/server.js';

/** A gateway whose Master knows no jobs and whose cancel records what it was asked. */
function testingGateway(canceled: string[]): MasterGateway {
  const unknown = (id: string) => Promise.reject(new RuntimeError('UNKNOWN_JOB', `no job with id ${id}`));
  return {
    list: async () => [],
    jobs: async () => ({ summaries: [], details: new Map() }),
    status: unknown,
    overview: async () => ({ leaderSessionId: '1', taskExecutors: [], slotsTotal: 0, slotsFree: 0, waitingJobs: [] }),
    cancel: async (id: string) => {
      canceled.push(id);
      return { state: 'canceling' };
    },
    savepoint: (id: string) => unknown(id),
  } as unknown as MasterGateway;
}

describe('rest server - leadership, auth and errors without a cluster', () => {
  let server: RestServer;
  let leadership: LeaderTracker;
  const canceled: string[] = [];
  const token = 'a-test-token-0123456789';
  const url = (path: string) => `http://${server.address}${path}`;

  async function start(withToken: string): Promise<void> {
    leadership = new LeaderTracker('127.0.0.1:1');
    server = await startRestServer({ host: '127.0.0.1', port: 0, token: withToken, gateway: testingGateway(canceled), leadership, log: createLogger({ name: 'test', level: 'silent' }), savepointRoots: ['/tmp'] });
  }
  afterEach(() => server?.close());

  it('on a standby, answers 503 while no leader is known and 421 naming the leader once one is, but always GET /api/leader', async () => {
    await start(token);
    let res = await fetch(url('/api/jobs'));
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.deepEqual(await res.json(), { error: { code: 'NO_LEADER', message: 'no leader is known yet; retry shortly' }, leader: null });
    leadership.observed({ sessionId: '00000000000000000007', node: '127.0.0.1:2', rest: '127.0.0.1:8081' });
    res = await fetch(url('/api/jobs'));
    assert.equal(res.status, 421);
    const text = await res.text();
    // The session id is the token TaskExecutors check: no open endpoint publishes it.
    assert.ok(!text.includes('0007'), text);
    const body = JSON.parse(text) as { error: { code: string; message: string }; leader: { rest: string; url: string; term: number } };
    assert.equal(body.error.code, 'NOT_LEADER');
    assert.equal(body.leader.rest, '127.0.0.1:8081');
    assert.equal(body.leader.url, 'http://127.0.0.1:8081');
    assert.match(body.error.message, /the leader is http:\/\/127\.0\.0\.1:8081/);
    res = await fetch(url('/api/leader'));
    assert.equal(res.status, 200);
    const leaderText = await res.text();
    assert.ok(!leaderText.includes('0007'), leaderText);
    const info = JSON.parse(leaderText) as { isLeader: boolean; leader: { term: number }; history: unknown[] };
    assert.equal(info.isLeader, false);
    assert.equal(info.leader.term, 1);
    assert.equal(info.history.length, 1);
  });

  it('turns mutations off (403) without a configured token, and checks the bearer token otherwise', async () => {
    await start('');
    leadership.granted('1');
    let res = await fetch(url('/api/jobs/j1/cancel'), { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'MUTATIONS_DISABLED');
    await server.close();
    await start(token);
    leadership.granted('1');
    res = await fetch(url('/api/jobs/j1/cancel'), { method: 'POST', headers: { authorization: 'Bearer wrong-token-0123456789' } });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    res = await fetch(url('/api/jobs/j1/cancel'), { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { jobId: 'j1', state: 'canceling' });
    assert.deepEqual(canceled, ['j1']);
  });

  it('answers bad input with 400, 404 and 413, always as JSON errors', async () => {
    await start(token);
    leadership.granted('1');
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const cases: Array<[string, RequestInit, number, string]> = [
      ['/api/jobs/nope', {}, 404, 'UNKNOWN_JOB'],
      ['/api/jobs/a%20b', {}, 400, 'BAD_REQUEST'],
      ['/api/jobs/j1/savepoints', { method: 'POST', headers: auth, body: '{not json' }, 400, 'BAD_REQUEST'],
      ['/api/jobs/j1/savepoints', { method: 'POST', headers: auth, body: '{"targetDirectory":"relative/dir"}' }, 400, 'BAD_REQUEST'],
      ['/api/jobs/j1/savepoints', { method: 'POST', headers: auth, body: '{"cancel":true}' }, 400, 'BAD_REQUEST'],
      ['/api/jobs/j1/savepoints', { method: 'POST', headers: auth, body: JSON.stringify({ pad: 'x'.repeat(70_000) }) }, 413, 'PAYLOAD_TOO_LARGE'],
      ['/api/jobs/j1/savepoints', { method: 'POST', headers: auth, body: '{"targetDirectory":"/tmp/sp"}' }, 404, 'UNKNOWN_JOB'],
      ['/api/nothing', {}, 404, 'NOT_FOUND'],
      ['/nothing.html', {}, 404, 'NOT_FOUND'],
    ];
    for (const [path, init, status, code] of cases) {
      const res = await fetch(url(path), init);
      assert.equal(res.status, status, `${init.method ?? 'GET'} ${path}`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, code, path);
    }
  });
});
