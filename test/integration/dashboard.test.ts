import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { ApiJobSeries, ApiTaskExecutorSeries, ResourceSample } from '../../lib/dashboard/series.js';
import type { DrillReport } from '../../scripts/drill/drill.js';
import type { ApiJob, ApiJobException } from '../../lib/rest/shapes.js';
import { distRoot, killAll } from '../support/launcher.js';
import { jobPath, startCluster, type TestCluster } from '../support/cluster.js';
import { leaderOf } from '../support/ha-cluster.js';
import { TempDirs } from '../support/temp-dirs.js';
import { startHaCluster, type HaCluster } from '../../scripts/support/local-ha.js';
import { waitFor } from '../support/wait.js';

const CHROMIUM = '/usr/bin/chromium';
const fixtureJob = (name: string) => path.join(distRoot, 'test', 'fixtures', 'jobs', `${name}.js`);
// Screenshots are for the reader of a failed run: kept (and their dir printed) when a test of this file failed, removed otherwise.
const screenshotDirs = new TempDirs();
let screenshots: string | undefined;
let aTestFailed = false;

async function screenshot(page: Page, name: string): Promise<void> {
  screenshots ??= screenshotDirs.make('flinkish-dashboard');
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
}

/** In each describe of this file: notes a failed test, so that the screenshots stay. */
function noteFailures(): void {
  afterEach(function () {
    if (this.currentTest?.state === 'failed') aTestFailed = true;
  });
}

// A root hook: it runs once every describe of this file (and of the run) is done.
after(() => {
  if (screenshots && aTestFailed) console.log(`      screenshots kept: ${screenshots}`);
  else screenshotDirs.removeAll();
});

/** Script errors and console errors of the page, collected for an assertion that there are none. */
/** The points a time chart drew, per line, with the chart's scale. */
function pointsOf(page: Page, chart: string): Promise<Array<{ series: string; max: number; points: Array<{ at: number; value: number; cy: number }> }>> {
  return page.locator(`#${chart} g.line`).evaluateAll((groups) =>
    groups.map((g) => ({
      series: g.getAttribute('data-series')!,
      max: Number(g.closest('svg')!.getAttribute('data-max')),
      points: [...g.querySelectorAll('circle.pt')].map((c) => ({ at: Number(c.getAttribute('data-at')), value: Number(c.getAttribute('data-value')), cy: Number(c.getAttribute('cy')) })),
    })),
  );
}

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  return errors;
}

/** A fresh profile, nothing that calls home: the test stays on loopback. */
function launchBrowser(profile: string): Promise<BrowserContext> {
  // .ci/run and scripts/setup.sh install it; without it this test fails, saying so.
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1400, height: 1000 },
  });
}

describe('dashboard - a real browser on the dashboard of a running cluster', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let browser: BrowserContext | undefined;
  let rest: string;
  let jobId: string;
  const dirs = new TempDirs();
  let markerDir: string;
  noteFailures();

  const api = async <T>(p: string): Promise<T> => (await fetch(`http://${rest}${p}`)).json() as Promise<T>;
  const job = (): Promise<ApiJob> => api<ApiJob>(`/api/jobs/${jobId}`);
  before(async function () {
    markerDir = dirs.make('flinkish-fails-once');
    cluster = await startCluster({ taskExecutors: 2, slots: 2, env: { FLINKISH_REST_PORT: '0', FLINKISH_METRICS_PORT: '-1' } });
    rest = String(cluster.master.ready['rest']);
    const client = await cluster.client();
    await waitFor('4 slots', async () => (await client.overview()).slotsTotal === 4, { timeoutMs: 15_000 });
    jobId = await client.submitFile(jobPath('slow-sink'), { parallelism: 2 });
    await waitFor('every subtask running', async () => (await job()).vertices.every((v) => v.states['running'] === v.parallelism));
    browser = await launchBrowser(dirs.make('flinkish-chromium'));
  });
  after(async () => {
    try {
      await browser?.close();
      await cluster?.stop();
      await killAll();
    } finally {
      dirs.removeAll();
    }
  });

  it('draws the job graph as chained tasks and places every subtask in its slot, live', async () => {
    const page = await browser!.newPage();
    const errors = watchErrors(page);
    await page.goto(`http://${rest}/`);
    await page.locator('.vertex').nth(2).waitFor({ timeout: 15_000 });
    const expected = await job();
    const vertices = await page.locator('.vertex').evaluateAll((els) =>
      els.map((el) => [el.getAttribute('data-vertex-name'), [...el.querySelectorAll('.operators li')].map((li) => li.textContent)]),
    );
    assert.deepEqual(vertices, [
      ['fast source', ['fast source']],
      ['slow', ['slow']],
      ['discard -> Sink: print', ['discard', 'Sink: print']],
    ]);
    // TaskExecutor → slots → subtasks: each subtask where the REST API says it runs.
    assert.equal(await page.locator('.te').count(), 2);
    assert.equal(await page.locator('.slot').count(), 4);
    for (const v of expected.vertices) {
      for (const s of v.subtasks) {
        const chip = page.locator(`.slot[data-te="${s.taskExecutorId}"][data-slot="${s.slotIndex}"] .subtask[data-index="${s.index}"]`).filter({ hasText: v.name });
        assert.equal(await chip.count(), 1, `${v.name} (${s.index + 1}/${v.parallelism}) in ${s.taskExecutorId} slot ${s.slotIndex}`);
      }
    }
    assert.equal(await page.locator('.subtask').count(), 6);
    await waitFor('the badge to name this Master the leader', async () => /leader · term 1/.test((await page.locator('#leader-badge').textContent()) ?? ''), { timeoutMs: 15_000 });
    assert.match((await page.locator('#checkpoints tbody').textContent()) ?? '', /no checkpoints/);
    // Live: the graph's record counts move without a reload.
    const counts = () => page.locator('.vertex').nth(1).locator('.vfoot').textContent();
    const before = await counts();
    await waitFor('the record counts to change on the page', async () => (await counts()) !== before, { timeoutMs: 15_000 });
    await screenshot(page, 'dashboard');
    assert.deepEqual(errors, []);
  });

  it('draws records/s and backpressure charts whose points are the REST series, and colours the graph by backpressure under the slow sink', async () => {
    const page = await browser!.newPage();
    const errors = watchErrors(page);
    await page.goto(`http://${rest}/#job=${jobId}`);
    await waitFor('5 sampled points per task on the records-out chart', async () => {
      const lines = await pointsOf(page, 'chart-out');
      return lines.length === 3 && lines.every((l) => l.points.length >= 5);
    }, { timeoutMs: 30_000 });
    // The slow map holds the source back: the source waits for credit (high), the tasks after it never do (ok).
    const levels = () => page.locator('.vertex').evaluateAll((els) => els.map((el) => el.getAttribute('data-backpressure')));
    await waitFor('backpressure colours on the job graph', async () => JSON.stringify(await levels()) === JSON.stringify(['high', 'ok', 'ok']), { timeoutMs: 30_000 });
    const colours = await page.locator('.vertex .vhead').evaluateAll((els) => els.map((el) => el.ownerDocument.defaultView!.getComputedStyle(el).backgroundColor));
    assert.notEqual(colours[0], colours[1], 'a high vertex is drawn in another colour than an ok one');
    assert.equal(colours[1], colours[2]);

    const series = await api<ApiJobSeries>(`/api/jobs/${jobId}/series`);
    const latest = series.samples.at(-1)!;
    assert.deepEqual(latest.vertices.map((p) => p?.backpressure), ['high', 'ok', 'ok'], 'the REST series says the same');
    const pick: Record<string, (p: NonNullable<ApiJobSeries['samples'][number]['vertices'][number]>) => number> = {
      'chart-in': (p) => p.recordsInPerSecond,
      'chart-out': (p) => p.recordsOutPerSecond,
      'chart-bp': (p) => Math.round(p.backpressureRatio * 1000) / 10,
    };
    for (const [chart, value] of Object.entries(pick)) {
      const lines = await pointsOf(page, chart);
      assert.deepEqual(lines.map((l) => l.series), series.vertices.map((v) => v.id), chart);
      for (const line of lines) {
        const i = series.vertices.findIndex((v) => v.id === line.series);
        assert.ok(line.points.length >= 5, `${chart}/${line.series}: ${line.points.length} points`);
        for (const point of line.points) {
          // The page drew an older poll's series: each point is a sample the REST series still holds.
          const sample = series.samples.find((s) => s.at === point.at);
          assert.ok(sample, `${chart}/${line.series}: a point at ${point.at} that the REST series lacks`);
          assert.equal(point.value, value(sample.vertices[i]!), `${chart}/${line.series} at ${point.at}`);
        }
        // Drawn where the values say: a larger value never sits lower on the chart.
        const byValue = [...line.points].sort((a, b) => a.value - b.value);
        for (let k = 1; k < byValue.length; k++) assert.ok(byValue[k]!.cy <= byValue[k - 1]!.cy, `${chart}/${line.series}: y follows the value`);
      }
    }
    // The source runs at all: its records-out line is not flat at zero.
    assert.ok((await pointsOf(page, 'chart-out'))[0]!.points.some((p) => p.value > 0));
    await screenshot(page, 'charts-backpressure');
    assert.deepEqual(errors, []);
  });

  it("draws each TaskExecutor's memory and CPU from its heartbeats, point for point as the REST series has them", async () => {
    const page = await browser!.newPage();
    const errors = watchErrors(page);
    await page.goto(`http://${rest}/`);
    await waitFor('3 points per TaskExecutor on each resource chart', async () => {
      const charts = await Promise.all(['chart-te-rss', 'chart-te-heap', 'chart-te-cpu'].map((c) => pointsOf(page, c)));
      return charts.every((lines) => lines.length === 2 && lines.every((l) => l.points.length >= 3));
    }, { timeoutMs: 30_000 });
    const series = await api<ApiTaskExecutorSeries>('/api/taskexecutors/series');
    const tes = await api<Array<{ id: string }>>('/api/taskexecutors');
    assert.deepEqual(series.taskExecutors.map((t) => t.id), tes.map((t) => t.id), 'a series for each registered TaskExecutor');
    const pick: Record<string, (s: ResourceSample) => number | null> = {
      'chart-te-rss': (s) => s.rssBytes,
      'chart-te-heap': (s) => s.heapUsedBytes,
      'chart-te-cpu': (s) => s.cpuCores,
    };
    for (const [chart, value] of Object.entries(pick)) {
      for (const line of await pointsOf(page, chart)) {
        const te = series.taskExecutors.find((t) => t.id === line.series);
        assert.ok(te, `${chart}: a line for ${line.series}, which the REST series has`);
        for (const point of line.points) {
          const sample: ResourceSample | undefined = te.samples.find((s) => s.at === point.at);
          assert.ok(sample, `${chart}/${line.series}: a point at ${point.at} that the REST series lacks`);
          assert.equal(point.value, value(sample), `${chart}/${line.series} at ${point.at}`);
        }
      }
    }
    // A running process: tens of MB resident, and the TaskExecutor running the slow pipeline uses some CPU.
    for (const te of series.taskExecutors) assert.ok(te.samples.every((s) => s.rssBytes > 20 << 20 && s.heapUsedBytes > 0), te.id);
    assert.ok(series.taskExecutors.some((te) => te.samples.some((s) => (s.cpuCores ?? 0) > 0)), 'CPU time is counted');
    await screenshot(page, 'taskexecutors');
    assert.deepEqual(errors, []);
  });

  it('changes a task\'s colour from ok to high when the task after it turns slow', async () => {
    const client = await cluster.client();
    const trigger = path.join(markerDir, 'slow-now');
    const paced = await client.submitFile(fixtureJob('slow-when-told'), { args: { trigger } });
    const page = await browser!.newPage();
    const errors = watchErrors(page);
    await page.goto(`http://${rest}/#job=${paced}`);
    const source = page.locator('.vertex').first();
    const look = async () => ({
      level: await source.getAttribute('data-backpressure'),
      colour: await source.locator('.vhead').evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el).backgroundColor),
    });
    await waitFor('the paced source without backpressure', async () => (await look()).level === 'ok', { timeoutMs: 30_000 });
    const before = await look();
    await screenshot(page, 'backpressure-ok');
    writeFileSync(trigger, 'slow\n');
    await waitFor('the source under high backpressure', async () => (await look()).level === 'high', { timeoutMs: 30_000 });
    const after = await look();
    assert.notEqual(after.colour, before.colour);
    const series = await api<ApiJobSeries>(`/api/jobs/${paced}/series`);
    const levels = series.samples.map((x) => x.vertices[0]?.backpressure).filter((l) => l !== undefined);
    assert.equal(levels[0], 'ok', 'the REST series holds the change too');
    assert.equal(levels.at(-1), 'high');
    await screenshot(page, 'backpressure-high');
    assert.deepEqual(errors, []);
    await client.cancel(paced);
  });

  it('shows a task failure in the exceptions table with its root cause and stack, and the restart on the failover timeline above the output rate', async () => {
    const client = await cluster.client();
    const failing = await client.submitFile(fixtureJob('fails-once'), { args: { trigger: path.join(markerDir, 'fail-now'), marker: path.join(markerDir, 'failed') } });
    const series = () => api<ApiJobSeries>(`/api/jobs/${failing}/series`);
    const withOutput = (s: ApiJobSeries, attempt: number) => s.samples.filter((x) => x.attempt === attempt && x.outputPerSecond !== null).length;
    // The failure comes once the first attempt's output is on record, so that the view has a before.
    await waitFor('2 samples of the first attempt with an output rate', async () => withOutput(await series(), 0) >= 2, { timeoutMs: 30_000 });
    writeFileSync(path.join(markerDir, 'fail-now'), 'fail\n');
    const exceptions = () => api<ApiJobException[]>(`/api/jobs/${failing}/exceptions`);
    await waitFor('the failure in the exception history, and output again after the restart', async () =>
      (await exceptions()).length === 1 && withOutput(await series(), 1) >= 2, { timeoutMs: 40_000 });
    const [failure] = await exceptions();
    assert.equal(failure!.rootCause.code, 'USER_FUNCTION_FAILED');
    assert.match(failure!.rootCause.message, /\(fails once\) failed: planned failure: the trigger file exists \(at .*fails-once\.ts:\d+:\d+\)$/);
    assert.match(failure!.rootCause.stack ?? '', /planned failure: the trigger file exists\n\s+at /);
    assert.match(failure!.task?.vertexName ?? '', /^fails once/);
    assert.equal(failure!.attempt, 0);
    assert.equal(failure!.restarting, true);
    assert.ok(failure!.taskExecutorId, 'the TaskExecutor it ran on');

    const page = await browser!.newPage();
    const errors = watchErrors(page);
    await page.goto(`http://${rest}/#job=${failing}`);
    const row = page.locator('#exceptions tbody tr[data-attempt="0"]');
    await row.waitFor({ timeout: 15_000 });
    const cells = await row.locator('td').allTextContents();
    assert.equal(cells[1], '0');
    assert.ok(cells[2]!.startsWith(`${failure!.task!.vertexName} (1)`), cells[2]);
    assert.ok(cells[2]!.includes(failure!.task!.executionId));
    assert.equal(cells[3], failure!.taskExecutorId);
    assert.match(cells[4]!, /^USER_FUNCTION_FAILED user function of operator .* failed: planned failure: the trigger file exists/);
    assert.match(cells[5]!, /^restarted/);
    assert.match((await row.locator('details pre').textContent()) ?? '', /at /);

    // The restart the sampler saw, on the same axis as the leader's term, with the output beneath.
    const { restarts } = await series();
    assert.equal(restarts.length, 1);
    assert.equal(restarts[0]!.attempt, 1);
    await page.locator(`#timeline .mark[data-at="${restarts[0]!.at}"]`).waitFor({ timeout: 10_000 });
    await page.locator('#timeline .band[data-term="1"]').waitFor({ timeout: 10_000 });
    const restartAt = restarts[0]!.at;
    const output = () => page.locator('#chart-output circle.pt').evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-at'))));
    await waitFor('the output rate drawn before and after the restart', async () => {
      const at = await output();
      return at.some((t) => t < restartAt) && at.some((t) => t > restartAt);
    }, { timeoutMs: 15_000 });
    await screenshot(page, 'exceptions-failover');
    assert.deepEqual(errors, []);
    await client.cancel(failing);
  });

  it('opens a drill report as a page: its verdict and every fault with its recovery times', async () => {
    const report: DrillReport = {
      seed: 7,
      cluster: { kind: 'local', hosts: null },
      faults: [
        { kind: 'leader-kill', target: 'master-1', at: Date.now() - 5000, detectionMs: 1200, newLeaderMs: 2300, runningAgainMs: 3100, withoutLeaderMs: 2200, longestOutputGapMs: 3400 },
        { kind: 'te-kill', target: 'te-2', at: Date.now() - 2000, detectionMs: 900, newLeaderMs: null, runningAgainMs: 1800, withoutLeaderMs: 0, longestOutputGapMs: 2100, note: 'restarted from checkpoint 4' },
      ],
      job: { jobId: 'ab'.repeat(16), state: 'finished', records: 120_000, restarts: 2, attempt: 3 },
      exactlyOnce: { ok: true, problems: [] },
      leaders: { ok: true, actions: 42, overlaps: [] },
      failure: null,
      logsDir: null,
      ok: true,
      durationMs: 21_000,
    };
    const page = await browser!.newPage();
    const errors = watchErrors(page);
    await page.goto(`http://${rest}/`);
    await page.setInputFiles('#drill-file', { name: 'drill-report.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(report)) });
    await page.locator('#drill-faults tbody tr').nth(1).waitFor({ timeout: 10_000 });
    assert.match((await page.locator('#drill').textContent()) ?? '', /passed seed 7 · 21\.0 s · 120,000 records, 2 restarts · exactly-once ok · leaders never overlapped/);
    const rows = await page.locator('#drill-faults tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    assert.deepEqual(rows.map((r) => r.slice(1, 3).concat(r.slice(4))), [
      ['leader-kill', 'master-1', '1.2 s', '2.3 s', '3.1 s', '2.2 s', '3.4 s', ''],
      ['te-kill', 'te-2', '900 ms', '–', '1.8 s', '0 ms', '2.1 s', 'restarted from checkpoint 4'],
    ]);
    await screenshot(page, 'drill-report');
    assert.deepEqual(errors, []);
  });
});

describe('dashboard - an HA cluster: a standby\'s page follows the leader, whose charts show the checkpoints', function () {
  this.timeout(120_000);
  let cluster: HaCluster | undefined;
  let browser: BrowserContext | undefined;
  const dirs = new TempDirs();
  noteFailures();

  after(async () => {
    try {
      await browser?.close();
      await cluster?.stop();
      await killAll();
    } finally {
      dirs.removeAll();
    }
  });

  it('opens on the standby, lands on the leader, and draws a bar per ended checkpoint with its duration and size', async () => {
    cluster = await startHaCluster({ masters: 2, taskExecutors: 1, slots: 2, env: { FLINKISH_REST_PORT: '0', FLINKISH_METRICS_PORT: '-1' } });
    const client = await cluster.client();
    const leader = await leaderOf(cluster, client);
    const standby = cluster.masters.find((m) => m !== leader)!;
    const leaderRest = String(leader.ready['rest']);
    const standbyRest = String(standby.ready['rest']);
    await waitFor('the standby to know the leader\'s REST address', async () => {
      const answer = (await (await fetch(`http://${standbyRest}/api/leader`)).json()) as { leader: { url: string | null } | null };
      return answer.leader?.url === `http://${leaderRest}`;
    }, { timeoutMs: 20_000 });
    const output = dirs.make('flinkish-dashboard-output');
    const jobId = await client.submitFile(jobPath('keyed-count'), { args: { records: 1e9, recordsPerSecond: 2000, checkpointMs: 300, output } });
    browser = await launchBrowser(dirs.make('flinkish-chromium'));
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`http://${standbyRest}/#job=${jobId}`);
    await page.waitForURL(`http://${leaderRest}/#job=${jobId}`, { timeout: 15_000 });
    // The badge reads 'connecting…' until the leader's page has fetched its first status.
    await waitFor('the leader\'s page to call itself the leader', async () => /^leader/.test((await page.locator('#leader-badge').textContent()) ?? ''), { timeoutMs: 15_000 });

    const bars = (chart: string) =>
      page.locator(`#${chart} rect.bar`).evaluateAll((els) => els.map((el) => ({ id: Number(el.getAttribute('data-checkpoint-id')), value: Number(el.getAttribute('data-value')), cls: el.getAttribute('class') })));
    await waitFor('3 checkpoints drawn', async () => (await bars('chart-cp-duration')).length >= 3, { timeoutMs: 30_000 });
    const series = await (await fetch(`http://${leaderRest}/api/jobs/${jobId}/series`)).json() as ApiJobSeries;
    const byId = new Map(series.checkpoints.map((c) => [c.id, c]));
    for (const [chart, field] of [['chart-cp-duration', 'durationMs'], ['chart-cp-size', 'sizeBytes']] as const) {
      const drawn = await bars(chart);
      assert.ok(drawn.length >= 3, chart);
      for (const bar of drawn) {
        const checkpoint = byId.get(bar.id);
        assert.ok(checkpoint, `${chart}: checkpoint ${bar.id} is in the REST series`);
        assert.equal(bar.value, checkpoint[field] ?? 0, `${chart}: checkpoint ${bar.id}`);
        assert.equal(bar.cls, `bar ${checkpoint.status}`);
      }
    }
    assert.ok((await bars('chart-cp-size')).some((b) => b.value > 0), 'a completed checkpoint has a size');
    // The standby itself samples nothing and answers no series: it names the leader.
    const fromStandby = await fetch(`http://${standbyRest}/api/jobs/${jobId}/series`);
    assert.equal(fromStandby.status, 421);
    await screenshot(page, 'ha-checkpoints');
    assert.deepEqual(errors, []);
    await client.cancel(jobId);
  });
});
