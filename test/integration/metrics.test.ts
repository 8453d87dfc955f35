import assert from 'node:assert/strict';
import { killAll } from '../support/launcher.js';
import { jobPath, startCluster, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format: `name{a="x",b="y"} value` lines, `#` lines are metadata. */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

async function scrape(address: string): Promise<Sample[]> {
  const res = await fetch(`http://${address}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parse(await res.text());
}

function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

describe('metrics - Prometheus endpoints of the Master and a TaskExecutor', function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let masterMetrics: string;
  let teMetrics: string;
  let jobId: string;

  before(async () => {
    cluster = await startCluster({ taskExecutors: 1, slots: 2, env: { FLINKISH_METRICS_PORT: '0', FLINKISH_REST_PORT: '-1' } });
    masterMetrics = String(cluster.master.ready['metrics']);
    teMetrics = String(cluster.taskExecutors[0]!.ready['metrics']);
    assert.equal(cluster.master.ready['rest'], null, 'restPort -1 turns the REST API off');
    const client = await cluster.client();
    await waitFor('2 slots', async () => (await client.overview()).slotsTotal === 2, { timeoutMs: 15_000 });
    jobId = await client.submitFile(jobPath('slow-sink'), { parallelism: 2 });
  });
  after(async () => {
    await cluster?.stop();
    await killAll();
  });

  it("exports each running subtask's records from the JobMaster on the Master, and they grow", async () => {
    const slow = { job_id: jobId, vertex: 'slow' };
    const first = await waitFor('records into the slow task', async () => total(await scrape(masterMetrics), 'flinkish_task_records_in', slow) || null, { timeoutMs: 20_000 });
    await waitFor('more records', async () => total(await scrape(masterMetrics), 'flinkish_task_records_in', slow) > first, { timeoutMs: 20_000 });
    const samples = await scrape(masterMetrics);
    const subtasks = samples.filter((s) => s.name === 'flinkish_task_records_out' && s.labels['job_id'] === jobId).map((s) => `${s.labels['vertex']}#${s.labels['subtask']}`);
    assert.deepEqual(subtasks.sort(), ['discard -> Sink: print#0', 'discard -> Sink: print#1', 'fast source#0', 'fast source#1', 'slow#0', 'slow#1']);
    // The slow task cannot keep up, so the fast source waits for credit.
    await waitFor('backpressure on the source', async () => total(await scrape(masterMetrics), 'flinkish_task_backpressured_seconds', { job_id: jobId, vertex: 'fast source' }) > 0);
    assert.equal(total(samples, 'flinkish_taskexecutors'), 1);
    assert.equal(total(samples, 'flinkish_slots', { state: 'allocated' }), 2);
    assert.equal(total(samples, 'flinkish_jobs', { state: 'running' }), 1);
    assert.equal(total(samples, 'flinkish_leader_changes_total'), 1, 'standalone: leader once');
    assert.ok(total(samples, 'flinkish_actor_messages_total', { actor: 'master' }) > 0);
    assert.ok(total(samples, 'flinkish_actor_messages_total', { actor: `jobmaster-${jobId}` }) > 0);
    assert.ok(samples.some((s) => s.name === 'flinkish_heartbeat_misses_total'));
    assert.ok(samples.some((s) => s.name === 'process_cpu_user_seconds_total'));
  });

  it('exports the TaskExecutor\'s own tasks and actor messages, and they grow', async () => {
    const source = { job_id: jobId, vertex: 'fast source' };
    const first = await waitFor('records out of the source', async () => total(await scrape(teMetrics), 'flinkish_taskexecutor_records_out', source) || null, { timeoutMs: 20_000 });
    await waitFor('more records', async () => total(await scrape(teMetrics), 'flinkish_taskexecutor_records_out', source) > first, { timeoutMs: 20_000 });
    const samples = await scrape(teMetrics);
    assert.ok(total(samples, 'flinkish_actor_messages_total', { actor: 'taskexecutor' }) > 0);
    assert.equal(samples.filter((s) => s.name === 'flinkish_task_records_in').length, 0, 'the cluster view is the Master\'s alone');
    const res = await fetch(`http://${teMetrics}/other`);
    assert.equal(res.status, 404);
  });

  it('drops the series of a job once it ends', async () => {
    const client = await cluster.client();
    await client.cancel(jobId);
    await waitFor('the job to end', async () => (await client.result(jobId)) !== null, { timeoutMs: 15_000 });
    await waitFor('no task series left', async () => {
      const [m, t] = await Promise.all([scrape(masterMetrics), scrape(teMetrics)]);
      return !m.some((s) => s.name === 'flinkish_task_records_in') && !t.some((s) => s.name === 'flinkish_taskexecutor_records_in');
    });
  });
});
