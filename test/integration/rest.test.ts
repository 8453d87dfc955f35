import assert from 'node:assert/strict';
import type { ApiJob, ApiOverview, ApiTaskExecutor } from '../../lib/rest/shapes.js';
import { startHaCluster, type HaCluster } from '../../scripts/support/local-ha.js';
import { killAll, type Proc } from '../support/launcher.js';
import { jobPath, startCluster, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

const TOKEN = 'rest-integration-token-0123';

describe('rest - the REST API of a Master with a running job', function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let rest: string;
  let jobId: string;

  async function call<T = unknown>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(`http://${rest}${path}`, init);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/, path);
    return { status: res.status, body: (await res.json()) as T };
  }
  const get = async <T>(path: string): Promise<T> => {
    const { status, body } = await call<T>(path);
    assert.equal(status, 200, `GET ${path}: ${JSON.stringify(body)}`);
    return body;
  };

  before(async () => {
    cluster = await startCluster({ taskExecutors: 2, slots: 2, env: { FLINKISH_REST_PORT: '0', FLINKISH_METRICS_PORT: '-1', FLINKISH_REST_TOKEN: TOKEN } });
    rest = String(cluster.master.ready['rest']);
    assert.match(rest, /^127\.0\.0\.1:\d+$/, 'the ready line names the REST address, on loopback');
    await waitFor('4 registered slots', async () => (await get<ApiOverview>('/api/overview')).slotsTotal === 4, { timeoutMs: 15_000 });
    const client = await cluster.client();
    jobId = await client.submitFile(jobPath('slow-sink'), { parallelism: 2 });
    await waitFor('every subtask running', async () => {
      const job = await get<ApiJob>(`/api/jobs/${jobId}`);
      return job.vertices.every((v) => v.states['running'] === v.parallelism) && job;
    });
  });
  after(async () => {
    await cluster?.stop();
    await killAll();
  });

  it('overview counts TaskExecutors, slots and jobs by state, and names the leader', async () => {
    const o = await get<ApiOverview>('/api/overview');
    assert.equal(o.taskExecutors, 2);
    assert.equal(o.slotsTotal, 4);
    assert.equal(o.slotsFree, 2, 'the job holds two slots: slot sharing puts one pipeline in each');
    assert.deepEqual(o.jobs, { running: 1 });
    assert.equal(o.leader?.term, 1);
    assert.ok(o.leader && !('sessionId' in o.leader), 'the leader session id is not published');
    assert.equal(o.leader?.node, cluster.masterAddress);
    assert.equal(o.leader?.rest, rest);
  });

  it('lists the job, and the TaskExecutors with the slots the job holds', async () => {
    const jobs = await get<Array<{ jobId: string; name: string; state: string }>>('/api/jobs');
    assert.deepEqual(jobs.map((j) => [j.jobId, j.name, j.state]), [[jobId, 'slow-sink', 'running']]);
    const tes = await get<ApiTaskExecutor[]>('/api/taskexecutors');
    assert.deepEqual(tes.map((t) => [t.id, t.slotsTotal]), [['te-1', 2], ['te-2', 2]]);
    const held = tes.flatMap((t) => t.slots.filter((s) => s.jobId === jobId).map((s) => `${t.id}/${s.index}`));
    assert.equal(held.length, 2);
  });

  it('a job is its graph of chained tasks, each subtask in a slot of a TaskExecutor', async () => {
    const job = await get<ApiJob>(`/api/jobs/${jobId}`);
    assert.equal(job.state, 'running');
    assert.deepEqual(
      job.vertices.map((v) => [v.name, v.parallelism, v.operators.map((o) => o.name)]),
      [
        ['fast source', 2, ['fast source']],
        ['slow', 2, ['slow']],
        ['discard -> Sink: print', 2, ['discard', 'Sink: print']],
      ],
    );
    assert.deepEqual(job.vertices[1]!.inputs, [{ source: job.vertices[0]!.id, partitioner: 'rebalance' }]);
    const tes = await get<ApiTaskExecutor[]>('/api/taskexecutors');
    const slotsOfJob = new Set(tes.flatMap((t) => t.slots.filter((s) => s.jobId === jobId).map((s) => `${t.id}/${s.index}`)));
    for (const v of job.vertices) {
      assert.deepEqual(v.subtasks.map((s) => s.index), [0, 1]);
      for (const s of v.subtasks) assert.ok(slotsOfJob.has(`${s.taskExecutorId}/${s.slotIndex}`), `${v.name} ${s.index} runs in a slot of the job`);
    }
    // Slot sharing: subtask i of every vertex shares one slot, a whole pipeline.
    const slotOf = (v: number, i: number) => `${job.vertices[v]!.subtasks[i]!.taskExecutorId}/${job.vertices[v]!.subtasks[i]!.slotIndex}`;
    assert.equal(slotOf(0, 0), slotOf(2, 0));
    assert.equal(slotOf(0, 1), slotOf(2, 1));
    assert.deepEqual(job.slots.map((s) => `${s.taskExecutorId}/${s.slotIndex}`).sort(), [...slotsOfJob].sort());
    await waitFor('records flowing', async () => (await get<ApiJob>(`/api/jobs/${jobId}`)).vertices[1]!.metrics.recordsIn > 0);
  });

  it('a job without checkpointing has no checkpoints', async () => {
    assert.deepEqual(await get(`/api/jobs/${jobId}/checkpoints`), []);
  });

  it('the leader and its history: this Master leads its first term, without publishing the session id', async () => {
    const info = await get<{ isLeader: boolean; leader: { term: number }; history: Array<{ term: number; until: number | null }> }>('/api/leader');
    assert.equal(info.isLeader, true);
    assert.equal(info.leader.term, 1);
    assert.ok(!('sessionId' in info.leader));
    assert.deepEqual(info.history.map((t) => [t.term, t.until]), [[1, null]]);
  });

  it('unknown jobs and routes are 404, a wrong method 405 with Allow, as JSON errors', async () => {
    assert.deepEqual(await call('/api/jobs/0123456789abcdef'), { status: 404, body: { error: { code: 'UNKNOWN_JOB', message: 'no job with id 0123456789abcdef' } } });
    assert.equal((await call('/api/jobs/0123456789abcdef/checkpoints')).status, 404);
    // The series and exceptions of a job that does not exist: 404, and nothing is kept for it.
    assert.equal((await call('/api/jobs/0123456789abcdef/series')).status, 404);
    assert.equal((await call('/api/jobs/0123456789abcdef/exceptions')).status, 404);
    assert.equal((await call(`/api/jobs/${'x'.repeat(200)}/series`)).status, 400);
    assert.equal((await call('/api/nope')).status, 404);
    const res = await fetch(`http://${rest}/api/jobs/${jobId}`, { method: 'DELETE' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET');
  });

  it('refuses savepoint targets outside the roots, through REST and through the client protocol', async () => {
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    for (const targetDirectory of ['/etc/cron.d', '/tmp/../etc']) {
      const res = await call<{ error: { code: string } }>(`/api/jobs/${jobId}/savepoints`, { method: 'POST', headers: auth, body: JSON.stringify({ targetDirectory }) });
      assert.deepEqual([res.status, res.body.error.code], [403, 'PATH_OUTSIDE_ROOTS'], targetDirectory);
    }
    const client = await cluster.client();
    await assert.rejects(client.savepoint(jobId, { dir: '/etc/cron.d', stop: true }), { code: 'PATH_OUTSIDE_ROOTS' });
    assert.equal((await get<ApiJob>(`/api/jobs/${jobId}`)).state, 'running', 'the refused savepoint stopped nothing');
  });

  it('cancel and savepoints need the bearer token: 401 without, then the job is canceled', async () => {
    for (const path of [`/api/jobs/${jobId}/cancel`, `/api/jobs/${jobId}/savepoints`]) {
      assert.equal((await call(path, { method: 'POST' })).status, 401, path);
      assert.equal((await call(path, { method: 'POST', headers: { authorization: 'Bearer not-the-token-0123456' } })).status, 401, path);
    }
    assert.equal((await get<ApiJob>(`/api/jobs/${jobId}`)).state, 'running', 'refused requests changed nothing');
    const auth = { authorization: `Bearer ${TOKEN}` };
    const cancel = await call<{ jobId: string; state: string }>(`/api/jobs/${jobId}/cancel`, { method: 'POST', headers: auth });
    assert.equal(cancel.status, 202, JSON.stringify(cancel.body));
    assert.equal(cancel.body.jobId, jobId);
    await waitFor('the job to be canceled', async () => (await get<ApiJob>(`/api/jobs/${jobId}`)).state === 'canceled', { timeoutMs: 15_000 });
    const overview = await get<ApiOverview>('/api/overview');
    assert.deepEqual(overview.jobs, { canceled: 1 });
    const again = await call<{ state: string }>(`/api/jobs/${jobId}/cancel`, { method: 'POST', headers: auth });
    assert.deepEqual([again.status, again.body.state], [200, 'canceled']);
    const savepoint = await call<{ error: { code: string } }>(`/api/jobs/${jobId}/savepoints`, { method: 'POST', headers: auth });
    assert.deepEqual([savepoint.status, savepoint.body.error.code], [409, 'JOB_ENDED']);
  });
});

describe('rest - a standby Master points to the leader, and takes over its API on failover', function () {
  this.timeout(90_000);
  let cluster: HaCluster;

  interface LeaderAnswer {
    isLeader: boolean;
    node: string;
    leader: { term: number; node: string; url: string | null } | null;
    history: Array<{ term: number; node: string; until: number | null }>;
  }
  const leaderOf = async (m: Proc): Promise<LeaderAnswer> => (await fetch(`http://${String(m.ready['rest'])}/api/leader`)).json() as Promise<LeaderAnswer>;

  before(async () => {
    cluster = await startHaCluster({ masters: 2, taskExecutors: 0, env: { FLINKISH_REST_PORT: '0', FLINKISH_METRICS_PORT: '-1' } });
  });
  after(async () => {
    await cluster?.stop();
    await killAll();
  });

  it('answers 421 with the leader on the standby, and serves once it leads', async () => {
    const [leader, standby] = await waitFor('one leader and a standby that knows it', async () => {
      const answers = await Promise.all(cluster.masters.map(leaderOf));
      const i = answers.findIndex((a) => a.isLeader);
      const other = answers[1 - i];
      return i >= 0 && other?.leader?.node === answers[i]!.node && [cluster.masters[i]!, cluster.masters[1 - i]!];
    }, { timeoutMs: 20_000 });
    const res = await fetch(`http://${String(standby.ready['rest'])}/api/jobs`);
    assert.equal(res.status, 421);
    const body = (await res.json()) as { error: { code: string }; leader: { node: string; rest: string | null; url: string | null } };
    assert.equal(body.error.code, 'NOT_LEADER');
    assert.equal(body.leader.node, leader.ready['node']);
    // The leader published its REST address in etcd: the standby names it, and a client follows.
    assert.equal(body.leader.url, `http://${String(leader.ready['rest'])}`);
    assert.equal((await leaderOf(standby)).leader?.url, body.leader.url);
    const followed = await fetch(`${body.leader.url}/api/jobs`);
    assert.equal(followed.status, 200);
    assert.ok(Array.isArray(await followed.json()));

    leader.kill('SIGKILL');
    const after = await waitFor('the standby to lead', async () => {
      const a = await leaderOf(standby);
      return a.isLeader && a;
    }, { timeoutMs: 30_000 });
    // Leading, it first recovers its jobs (503 RECOVERING with Retry-After), then serves.
    await waitFor('the new leader to serve', async () => (await fetch(`http://${String(standby.ready['rest'])}/api/jobs`)).status === 200, {
      timeoutMs: 15_000,
    });
    // The failover timeline: the old leader's term ended, this Master's began.
    const terms = after.history.map((t) => [t.node, t.until === null]);
    assert.deepEqual(terms.at(0), [leader.ready['node'], false]);
    assert.deepEqual(terms.at(-1), [standby.ready['node'], true]);
    assert.ok(after.history.at(-1)!.term > after.history.at(0)!.term, 'terms are counted in order');
  });
});
