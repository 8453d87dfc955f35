import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import type { ApiJob } from '../../lib/rest/shapes.js';
import { killAll } from '../support/launcher.js';
import { jobPath, startCluster, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

const CHROMIUM = '/usr/bin/chromium';

describe('dashboard - a real browser on the dashboard of a running cluster', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let browser: BrowserContext | undefined;
  let rest: string;
  let jobId: string;
  const profile = mkdtempSync(path.join(tmpdir(), 'flinkish-chromium-'));

  const job = async (): Promise<ApiJob> => (await fetch(`http://${rest}/api/jobs/${jobId}`)).json() as Promise<ApiJob>;

  before(async function () {
    // .ci/run and scripts/setup.sh install it; without it this test fails, saying so.
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
    cluster = await startCluster({ taskExecutors: 2, slots: 2, env: { FLINKISH_REST_PORT: '0', FLINKISH_METRICS_PORT: '-1' } });
    rest = String(cluster.master.ready['rest']);
    const client = await cluster.client();
    await waitFor('4 slots', async () => (await client.overview()).slotsTotal === 4, { timeoutMs: 15_000 });
    jobId = await client.submitFile(jobPath('slow-sink'), { parallelism: 2 });
    await waitFor('every subtask running', async () => (await job()).vertices.every((v) => v.states['running'] === v.parallelism));
    // A fresh profile, nothing that calls home: the test stays on loopback.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1400, height: 1000 },
    });
  });
  after(async () => {
    await browser?.close();
    await cluster?.stop();
    await killAll();
    rmSync(profile, { recursive: true, force: true });
  });

  it('draws the job graph as chained tasks and places every subtask in its slot, live', async () => {
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
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
    assert.match((await page.locator('#leader-badge').textContent()) ?? '', /leader · term 1/);
    assert.match((await page.locator('#checkpoints tbody').textContent()) ?? '', /no checkpoints/);
    // Live: the graph's record counts move without a reload.
    const counts = () => page.locator('.vertex').nth(1).locator('.vfoot').textContent();
    const before = await counts();
    await waitFor('the record counts to change on the page', async () => (await counts()) !== before, { timeoutMs: 15_000 });
    const dir = mkdtempSync(path.join(tmpdir(), 'flinkish-dashboard-'));
    const screenshot = path.join(dir, 'dashboard.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`      dashboard screenshot: ${screenshot}`);
    assert.deepEqual(errors, []);
  });
});
