import assert from 'node:assert/strict';
import path from 'node:path';
import { createLogger } from '../../lib/logging.js';
import {
  eventAt,
  LATENESS_MS,
  MAX_OUT_OF_ORDERNESS,
  RULES,
  ruleAt,
  SESSION_GAP_MS,
  timerFor,
  WINDOW_MS,
} from '../fixtures/jobs/event-time-windows.js';
import { distRoot } from '../support/launcher.js';
import { committedLines, TaskJob, useTaskRunners } from '../support/task-job.js';
import { waitFor } from '../support/wait.js';

const CLUSTER = 'event-time-test';
const SECRET = 'event-time-secret-0123456789abcdef';
const log = createLogger({ node: 'test', level: process.env['LOG_LEVEL'] ?? 'silent' });
const MODULE = path.join(distRoot, 'test', 'fixtures', 'jobs', 'event-time-windows.js');
const PERIODIC = path.join(distRoot, 'test', 'fixtures', 'jobs', 'event-time-periodic.js');
const IDLE = path.join(distRoot, 'test', 'fixtures', 'jobs', 'event-time-idle.js');

interface Expected {
  windows: string[];
  late: string[];
  sessions: string[];
  joined: string[];
}

/**
 * The job's output computed by a plain loop over the same events, with the semantics written
 * out: the watermark after event i is (highest timestamp so far) - 50 - 1; a window [s, s+100)
 * fires when the watermark reaches s+99, again for each later record until s+99+60, and a
 * record later than that goes to `late`; sessions (gap 100) fire at their end - 1; a timer at
 * T fires when the watermark reaches T (never before the rules' watermark does).
 */
function expected(count: number, keys: number): Expected {
  const out: Expected = { windows: [], late: [], sessions: [], joined: [] };
  const line = (v: unknown): string => JSON.stringify(v);
  let watermark = Number.NEGATIVE_INFINITY;
  let maxTs = Number.NEGATIVE_INFINITY;
  const windows = new Map<string, { key: string; start: number; n: number; fired: boolean }>();
  const sessions = new Map<string, { start: number; end: number; n: number }[]>();
  const pending = new Map<string, number[]>();
  const timers = new Map<string, { key: string; at: number }>();
  const factor = (t: number): number => {
    let f = 0;
    for (let j = 0; j < RULES; j++) if (ruleAt(j)[0] <= t) f = ruleAt(j)[1];
    return f;
  };
  const advance = (wm: number): void => {
    watermark = wm;
    for (const [id, w] of windows) {
      if (!w.fired && w.start + WINDOW_MS - 1 <= wm) {
        out.windows.push(line([w.key, w.start, w.n]));
        w.fired = true;
      }
      if (w.start + WINDOW_MS - 1 + LATENESS_MS <= wm) windows.delete(id);
    }
    for (const [key, list] of sessions) {
      for (const s of list.filter((s) => s.end - 1 <= wm)) out.sessions.push(line([key, s.start, s.end, s.n]));
      sessions.set(key, list.filter((s) => s.end - 1 > wm));
    }
    for (const [id, { key, at }] of timers) {
      if (at > wm) continue;
      timers.delete(id);
      const due = (pending.get(key) ?? []).filter((t) => timerFor(t) === at);
      for (const t of due) out.joined.push(line([key, t, factor(t)]));
      pending.set(key, (pending.get(key) ?? []).filter((t) => timerFor(t) !== at));
      out.joined.push(line([key, 'timer', at, due.length]));
    }
  };
  for (let i = 0; i < count; i++) {
    const [key, t] = eventAt(i, keys);
    // Tumbling windows with allowed lateness.
    const start = Math.floor(t / WINDOW_MS) * WINDOW_MS;
    if (start + WINDOW_MS - 1 + LATENESS_MS <= watermark) {
      out.late.push(line([key, t]));
    } else {
      const id = `${key}/${start}`;
      const w = windows.get(id) ?? { key, start, n: 0, fired: false };
      w.n++;
      windows.set(id, w);
      if (start + WINDOW_MS - 1 <= watermark) {
        out.windows.push(line([key, start, w.n]));
        w.fired = true;
      }
    }
    // Sessions: a late record's own window is past; it never reaches a live session (those end after the watermark).
    if (t + SESSION_GAP_MS - 1 > watermark) {
      let merged = { start: t, end: t + SESSION_GAP_MS, n: 1 };
      let list = sessions.get(key) ?? [];
      for (let changed = true; changed; ) {
        changed = false;
        for (const s of list) {
          if (s.start <= merged.end && s.end >= merged.start) {
            merged = { start: Math.min(s.start, merged.start), end: Math.max(s.end, merged.end), n: s.n + merged.n };
            list = list.filter((o) => o !== s);
            changed = true;
            break;
          }
        }
      }
      sessions.set(key, [...list, merged]);
    }
    // Broadcast join with timers.
    pending.set(key, [...(pending.get(key) ?? []), t]);
    timers.set(`${key}/${timerFor(t)}`, { key, at: timerFor(t) });
    maxTs = Math.max(maxTs, t);
    const wm = maxTs - MAX_OUT_OF_ORDERNESS - 1;
    if (wm > watermark) advance(wm);
  }
  advance(Number.POSITIVE_INFINITY);
  return { windows: out.windows.sort(), late: out.late.sort(), sessions: out.sessions.sort(), joined: out.joined.sort() };
}

describe('event time - windows, late data, sessions, timers and broadcast state on real tasks', function () {
  this.timeout(90_000);
  const { started, dirs } = useTaskRunners({ clusterId: CLUSTER, secret: SECRET, log, settings: { metricsIntervalMs: 50 } });

  it('event time - exact windows, late data, sessions and once-fired timers through a TaskExecutor killed after a savepoint, a restore at p=3, and another kill', async () => {
    const root = dirs.make('event-time');
    const a = await started('et-a');
    const b = await started('et-b');
    const job = new TaskJob({ jobId: 'job-et', modulePath: MODULE, root, runners: [a, b] });
    const args = { count: 6_000, keys: 5, keyedParallelism: 2, sinkDir: path.join(root, 'out'), pauseMsPer100: 10 };
    const want = expected(args.count, args.keys);
    // The data has every case: on-time windows, late firings within the lateness, records beyond it, merged sessions.
    assert.ok(want.late.length > 50 && want.windows.length > 600 && want.sessions.length > 50, JSON.stringify({ late: want.late.length, windows: want.windows.length, sessions: want.sessions.length }));
    const refired = want.windows.map((l) => JSON.parse(l) as [string, number, number]).filter(([k, s, n]) => want.windows.includes(JSON.stringify([k, s, n - 1])));
    assert.ok(refired.length > 10, `windows fired again for late records: ${refired.length}`);

    // Attempt 0 at p=2: a savepoint, then the TaskExecutor of half the subtasks dies (its workers and connections with it).
    await job.deploy(args, 0);
    await waitFor('progress', () => job.sourceProgress() > 2_000);
    const savepoint = await job.checkpoint(1, true);
    job.complete(1);
    await waitFor('progress past the savepoint', () => job.sourceProgress() > 4_000);
    await b.runner.stop();
    job.cancel(); // what the JobMaster does on the lost TaskExecutor: cancel the rest
    await job.allEnded();
    const before = committedLines(path.join(args.sinkDir, 'windows')).length;
    assert.ok(before > 0 && before < want.windows.length, `committed ${before} window lines before the failure`);

    // Attempt 1 at p=3 from the savepoint; a checkpoint, then its second TaskExecutor dies too.
    const rescaled = { ...args, keyedParallelism: 3 };
    const c = await started('et-c');
    job.setRunners([a, c]);
    await job.deploy(rescaled, 1, savepoint);
    await waitFor('progress', () => job.sourceProgress() > 1_500);
    const checkpoint = await job.checkpoint(2);
    job.complete(2);
    await waitFor('progress past the checkpoint', () => job.sourceProgress() > 3_000);
    await c.runner.stop();
    job.cancel();
    await job.allEnded();

    // Attempt 2 at p=3 from the checkpoint, to the end.
    job.setRunners([a, await started('et-d')]);
    await job.deploy(rescaled, 2, checkpoint);
    await job.finish(3);
    for (const sink of ['windows', 'late', 'sessions', 'joined'] as const) {
      assert.deepEqual(committedLines(path.join(args.sinkDir, sink)), want[sink], `${sink} output`);
    }
  });

  it('event time - periodic watermarks from parallel sources through union, and a co-map of two inputs, on real tasks: exact counts', async () => {
    const root = dirs.make('periodic');
    const job = new TaskJob({ jobId: 'job-periodic', modulePath: PERIODIC, root, runners: [await started('p-a'), await started('p-b')] });
    const args = { count: 3_000, sinkDir: path.join(root, 'out') };
    await job.deploy(args, 0);
    await job.finish(1);
    const counts = new Map<string, number>();
    const add = (key: string, ts: number) => counts.set(JSON.stringify([key, Math.floor(ts / 100) * 100]), (counts.get(JSON.stringify([key, Math.floor(ts / 100) * 100])) ?? 0) + 1);
    for (let i = 0; i < args.count; i++) {
      add(`a${i % 3}`, i * 3);
      add(`b${i % 2}`, i * 5);
    }
    const want = [...counts].map(([kw, n]) => JSON.stringify([...(JSON.parse(kw) as unknown[]), n])).sort();
    const lines = committedLines(path.join(args.sinkDir, 'counts')).map((l) => JSON.parse(l) as [string, number, number, boolean]);
    assert.deepEqual(lines.map(([k, s, n]) => JSON.stringify([k, s, n])).sort(), want);
    const early = lines.filter((l) => l[3]).length;
    assert.ok(early > lines.length / 2, `${early} of ${lines.length} windows fired on periodic watermarks before the end of input`);
    const tagged = committedLines(path.join(args.sinkDir, 'tagged'));
    assert.deepEqual(tagged, [...Array.from({ length: args.count / 2 }, () => 'reading b0'), 'label x', 'label y'].sort());
  });

  it('event time - an input that falls silent is marked idle and holds back no watermark; without idleness it holds back every window', async () => {
    const run = async (name: string, idleMs?: number): Promise<[string, number, number, boolean][]> => {
      const root = dirs.make(name);
      const job = new TaskJob({ jobId: `job-${name}`, modulePath: IDLE, root, runners: [await started(`${name}-a`)] });
      const args = { count: 2_000, sinkDir: path.join(root, 'out'), ...(idleMs === undefined ? {} : { idleMs }) };
      await job.deploy(args, 0);
      await job.finish(1);
      return committedLines(args.sinkDir).map((l) => JSON.parse(l) as [string, number, number, boolean]);
    };
    const want = [...Array.from({ length: 100 }, (_, w) => JSON.stringify(['a', w * 100, 20])), JSON.stringify(['b', 0, 1])].sort();
    const withIdleness = await run('idle', 30);
    assert.deepEqual(withIdleness.map(([k, s, n]) => JSON.stringify([k, s, n])).sort(), want);
    const early = withIdleness.filter((l) => l[3]).length;
    assert.ok(early > 50, `${early} of ${withIdleness.length} windows fired before the end of input`);
    const without = await run('not-idle');
    assert.deepEqual(without.map(([k, s, n]) => JSON.stringify([k, s, n])).sort(), want);
    assert.equal(without.filter((l) => l[3]).length, 0, 'the silent input held every window back');
  });
});
