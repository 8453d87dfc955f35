import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleJob } from '../../../lib/client/job-bundle.js';
import { JOB_API_URL_KEY, JOB_DATAFLOW_API_URL_KEY } from '../../../lib/dataflow/job-api.js';

describe('job bundles - which part of the runtime API a job reads', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'flinkish-bundle-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function bundled(name: string, source: string): Promise<string> {
    const file = path.join(dir, name);
    writeFileSync(file, source);
    return Buffer.from((await bundleJob(file)).code).toString('utf8');
  }

  it('reads DataStream API values from the dataflow module alone, and the whole API only for its other names', async () => {
    const windows = await bundled('windows.ts', "import { TumblingEventTimeWindows, type StreamEnvironment } from 'flinkish';\nexport default (env: StreamEnvironment) => { env.fromSequence(1, 2).keyBy((n) => n).window(TumblingEventTimeWindows.of(10)).reduce((a, b) => a + b).print(); };\n");
    assert.ok(windows.includes(JOB_DATAFLOW_API_URL_KEY));
    assert.ok(!windows.includes(JOB_API_URL_KEY), 'the whole API is not imported');
    const errors = await bundled('errors.ts', "import { RuntimeError, WatermarkStrategy } from 'flinkish';\nexport default () => { if (!WatermarkStrategy) throw new RuntimeError('X', 'y'); };\n");
    assert.ok(errors.includes(JOB_DATAFLOW_API_URL_KEY) && errors.includes(JOB_API_URL_KEY));
    const typesOnly = await bundled('types.ts', "import type { StreamEnvironment } from 'flinkish';\nexport default (env: StreamEnvironment) => { env.fromSequence(1, 2).print(); };\n");
    assert.ok(!typesOnly.includes(JOB_DATAFLOW_API_URL_KEY) && !typesOnly.includes(JOB_API_URL_KEY));
  });
});
