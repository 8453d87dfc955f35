import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ErrorCode, RuntimeError } from '../../../lib/errors.js';
import { followLogs, readLogs, selectProcesses } from '../../../scripts/ops/logs.js';
import type { LocalClusterState } from '../../../scripts/local-cluster.js';
import { waitFor } from '../../support/wait.js';

describe('logs - the local cluster processes by role, kind or PID', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'flinkish-logs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string) => path.join(dir, `${name}.log`);
  const state: LocalClusterState = {
    file: path.join(dir, 'cluster.json'), clusterId: 'c', clientSecret: 'x', masterAddress: '', etcdEndpoints: [],
    processes: [
      { role: 'master-1', pid: 101, log: file('master-1') },
      { role: 'taskexecutor-1', pid: 201, log: file('taskexecutor-1') },
      { role: 'taskexecutor-2', pid: 202, log: file('taskexecutor-2') },
    ],
  };
  before(() => {
    writeFileSync(file('master-1'), '{"ready":true}\n{"level":30,"time":5,"msg":"m"}\n');
    writeFileSync(file('taskexecutor-1'), '{"level":30,"time":1,"msg":"a"}\n{"level":30,"time":4,"msg":"c"}\n');
    writeFileSync(file('taskexecutor-2'), '{"level":30,"time":2,"msg":"b"}\n');
  });

  it('names one process by role or PID, and all of a kind by its kind', () => {
    assert.deepEqual(selectProcesses(state, 'master-1').map((p) => p.pid), [101]);
    assert.deepEqual(selectProcesses(state, '202').map((p) => p.role), ['taskexecutor-2']);
    assert.deepEqual(selectProcesses(state, 'taskexecutor').map((p) => p.pid), [201, 202]);
  });

  it('refuses a name that matches nothing, listing what there is', () => {
    assert.throws(() => selectProcesses(state, 'jobmanager'), (err: unknown) => {
      assert.ok(err instanceof RuntimeError && err.code === ErrorCode.InvalidArgument);
      assert.match(err.message, /no process 'jobmanager' .* it has: master-1 \(pid 101\), taskexecutor-1 \(pid 201\)/);
      return true;
    });
  });

  it('prints one log as it is, and several merged by time with their role, the last n', () => {
    assert.deepEqual(readLogs(selectProcesses(state, 'master-1')), ['{"ready":true}', '{"level":30,"time":5,"msg":"m"}']);
    assert.deepEqual(readLogs(selectProcesses(state, 'taskexecutor'), 2), [
      'taskexecutor-2: {"level":30,"time":2,"msg":"b"}',
      'taskexecutor-1: {"level":30,"time":4,"msg":"c"}',
    ]);
  });

  it('follows what is appended, whole lines only, until aborted', async () => {
    const seen: string[] = [];
    const stop = new AbortController();
    const following = followLogs(selectProcesses(state, 'taskexecutor-2'), (line) => seen.push(line), stop.signal, 20);
    appendFileSync(file('taskexecutor-2'), '{"time":6,"msg":"d"}\n{"time":7,');
    await waitFor('the appended line', () => seen.length === 1, { timeoutMs: 5000 });
    appendFileSync(file('taskexecutor-2'), '"msg":"e"}\n');
    await waitFor('the completed line', () => seen.length === 2, { timeoutMs: 5000 });
    stop.abort();
    await following;
    assert.deepEqual(seen, ['{"time":6,"msg":"d"}', '{"time":7,"msg":"e"}']);
  });
});
