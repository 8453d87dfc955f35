import assert from 'node:assert/strict';
import type { Output } from '../../../lib/dataflow/collector.js';
import { StreamEnvironment } from '../../../lib/dataflow/environment.js';
import { buildJobGraph } from '../../../lib/dataflow/jobgraph.js';
import { operatorIndexForKey } from '../../../lib/dataflow/keygroups.js';
import { ChainRunner, type ChainSnapshot } from '../../../lib/dataflow/operators.js';
import { OutputTag } from '../../../lib/dataflow/side-outputs.js';
import { runsOnSlices } from '../../../lib/dataflow/sliced-windows.js';
import { MAX_WATERMARK } from '../../../lib/dataflow/watermarks.js';
import { SlidingEventTimeWindows, TumblingEventTimeWindows, type WindowAssigner } from '../../../lib/dataflow/windows.js';

type Rec = [key: string, value: number];
type Out = [key: string | [string, number], start: number, result: number];
/** Records at event times, and watermarks, in arrival order. */
type Step = { record: Rec; ts: number } | { watermark: number };

const late = new OutputTag<Rec>('late');
const MAX_PARALLELISM = 16;

/** Out-of-order input: times go up by 0-4 ms per record, each off by up to ±60; a watermark every 7 records, 20 behind the highest time. */
function input(records: number, seed: number): Step[] {
  let s = seed;
  const random = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const steps: Step[] = [];
  let base = 0;
  let highest = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < records; i++) {
    base += Math.floor(random() * 5);
    const ts = base + Math.floor(random() * 121) - 60;
    highest = Math.max(highest, ts);
    steps.push({ record: [`k${Math.floor(random() * 20)}`, 1 + Math.floor(random() * 9)], ts });
    if (i % 7 === 6) steps.push({ watermark: highest - 20 });
  }
  return steps;
}

/** How the window computes: `sliced` through the slice path (aggregate count, reduce sum), `plain` as a process function over the elements (the window-per-record path). */
type Variant = 'count-sliced' | 'sum-sliced' | 'count-plain' | 'sum-plain';

/** Keys: the record's key, or a tuple of it and the value's parity (keys that are new arrays in every record). */
function job(assigner: WindowAssigner, variant: Variant, parallelism: number, tupleKeys = false): StreamEnvironment {
  const env = new StreamEnvironment({ parallelism, maxParallelism: MAX_PARALLELISM });
  const windowed = env
    .fromCollection<Rec>([])
    .keyBy((r): string | [string, number] => (tupleKeys ? [r[0], r[1] % 2] : r[0]))
    .window(assigner)
    .allowedLateness(15)
    .sideOutputLateData(late);
  const out =
    variant === 'count-sliced'
      ? windowed.aggregate<number, number, Out>(
          { createAccumulator: () => 0, add: (_r, n) => n + 1, getResult: (n) => n, merge: (a, b) => a + b },
          (key, ctx, [n], o) => o.collect([key, ctx.window.start, n as number]),
        )
      : variant === 'sum-sliced'
        ? windowed.reduce<Out>((a, b) => [a[0], a[1] + b[1]], (key, ctx, [r], o) => o.collect([key, ctx.window.start, (r as Rec)[1]]))
        : windowed.process<Out>((key, ctx, items, o) => o.collect([key, ctx.window.start, variant === 'count-plain' ? items.length : items.reduce((a, r) => a + r[1], 0)]));
  out.collect();
  out.getSideOutput(late).collect();
  return env;
}

class Recording implements Output {
  readonly lines: string[] = [];
  emit(record: unknown, timestamp: number): void {
    this.lines.push(`${JSON.stringify(record)}@${timestamp}`);
  }
  emitSide(tag: string, record: unknown, timestamp: number): void {
    this.lines.push(`${tag} ${JSON.stringify(record)}@${timestamp}`);
  }
}

/** The window vertex's chain of subtask `index` of `env`'s job, restored from `from` (every old subtask's snapshot) if given. */
function windowChain(env: StreamEnvironment, index: number, out: Recording, from: ChainSnapshot[] = []): ChainRunner {
  const graph = env.build();
  const vertex = buildJobGraph(graph.describe()).vertices[1];
  assert.ok(vertex);
  const keyed: Record<string, ChainSnapshot['keyedState'][string]> = {};
  const operator: Record<string, unknown[]> = {};
  for (const snapshot of from) {
    for (const [id, groups] of Object.entries(snapshot.keyedState)) keyed[id] = [...(keyed[id] ?? []), ...groups];
    for (const [id, state] of Object.entries(snapshot.operatorState ?? {})) (operator[id] ??= []).push(state);
  }
  const runner = ChainRunner.create(graph, vertex.operatorIds, {
    subtaskIndex: index,
    output: out,
    sinkWriter: () => ({ write: () => undefined }),
    restoredState: keyed,
    restoredOperatorState: operator,
  });
  runner.open();
  return runner;
}

/** Runs `steps` through `runners` (records to the subtask of their key, watermarks to all). */
function feed(runners: ChainRunner[], steps: readonly Step[]): void {
  for (const step of steps) {
    if ('watermark' in step) for (const r of runners) r.processWatermark(step.watermark);
    else (runners[operatorIndexForKey(step.record[0], MAX_PARALLELISM, runners.length)] as ChainRunner).push(step.record, step.ts);
  }
}

function run(assigner: WindowAssigner, variant: Variant, steps: readonly Step[], tupleKeys = false): string[] {
  const out = new Recording();
  feed([windowChain(job(assigner, variant, 1, tupleKeys), 0, out)], [...steps, { watermark: MAX_WATERMARK }]);
  return out.lines.sort();
}

const ASSIGNERS: Array<[string, WindowAssigner]> = [
  ['sliding 40 every 15 (slices of 5)', SlidingEventTimeWindows.of(40, 15)],
  ['sliding 30 every 10, offset 3', SlidingEventTimeWindows.of(30, 10, 3)],
  ['tumbling 25', TumblingEventTimeWindows.of(25)],
];

describe('dataflow - sliced windows (shared slices of sliding and tumbling windows)', () => {
  it('runs reduce and aggregate windows on slices, process windows and processing time as before', () => {
    const spec = (assigner: WindowAssigner, fn: 'aggregate' | 'process') => ({
      assigner,
      allowedLatenessMs: 0,
      fn: fn === 'aggregate' ? { kind: 'aggregate' as const, aggregate: { createAccumulator: () => 0, add: () => 0, getResult: () => 0, merge: () => 0 } } : { kind: 'process' as const, process: () => undefined },
    });
    assert.equal(runsOnSlices(spec(SlidingEventTimeWindows.of(10, 2), 'aggregate')), true);
    assert.equal(runsOnSlices(spec(SlidingEventTimeWindows.of(10, 2), 'process')), false);
    assert.equal(runsOnSlices(spec(SlidingEventTimeWindows.of(2, 10), 'aggregate')), false, 'gaps between windows');
  });

  for (const [name, assigner] of ASSIGNERS) {
    it(`${name}: counts and sums on out-of-order input equal the window-per-record path's, late firings and the late side output included`, () => {
      const steps = input(3000, 7);
      const counts = run(assigner, 'count-sliced', steps);
      assert.deepEqual(counts, run(assigner, 'count-plain', steps));
      assert.deepEqual(run(assigner, 'sum-sliced', steps), run(assigner, 'sum-plain', steps));
      assert.deepEqual(run(assigner, 'count-sliced', steps, true), run(assigner, 'count-plain', steps, true));
      // The input exercises what it should: late records to the side output, and windows fired again by records within the lateness.
      assert.ok(counts.filter((l) => l.startsWith('late ')).length > 20);
      const fired = counts.filter((l) => !l.startsWith('late ')).map((l) => JSON.stringify((JSON.parse(l.split('@')[0] as string) as Out).slice(0, 2)));
      assert.ok(fired.length - new Set(fired).size > 20, 'windows fired again for late records');
    });
  }

  it('a snapshot mid-stream restores to the same output, with records before the first watermark after the restore', () => {
    const assigner = SlidingEventTimeWindows.of(40, 15);
    const steps = input(2000, 11);
    const expected = run(assigner, 'count-sliced', steps);
    const cut = steps.findIndex((s, i) => i > steps.length / 2 && 'watermark' in s) + 1;
    const out = new Recording();
    const before = windowChain(job(assigner, 'count-sliced', 1), 0, out);
    feed([before], steps.slice(0, cut));
    const snapshot = before.snapshotState();
    const after = windowChain(job(assigner, 'count-sliced', 1), 0, out, [snapshot]);
    // Records come first (the watermark of the cut is not put out again here): the restored operator knows what fired.
    feed([after], [...steps.slice(cut), { watermark: MAX_WATERMARK }]);
    assert.deepEqual(out.lines.sort(), expected);
  });

  it('rescaled from 2 subtasks to 3, one of them behind in event time at the snapshot, the output is that of the run without the snapshot', () => {
    const assigner = SlidingEventTimeWindows.of(40, 15);
    const steps = input(2000, 13);
    const cut = steps.findIndex((s, i) => i > steps.length / 2 && 'watermark' in s) + 1;
    const lagFrom = cut - 5 * 8; // the last 5 watermarks before the cut
    const behind = steps.slice(lagFrom, cut).filter((s): s is { watermark: number } => 'watermark' in s);
    const caughtUp = { watermark: (behind[behind.length - 1] as { watermark: number }).watermark };
    assert.ok(behind.length >= 4);
    /** Until the cut: records to their subtask, but the last watermarks only to subtask 0 (those of subtask 1 are in flight). */
    const untilCut = (runners: ChainRunner[]) => {
      feed(runners, steps.slice(0, lagFrom));
      for (const s of steps.slice(lagFrom, cut)) {
        if ('watermark' in s) runners[0]?.processWatermark(s.watermark);
        else feed(runners, [s]);
      }
    };
    const rest = [...steps.slice(cut), { watermark: MAX_WATERMARK }];

    const uninterrupted = new Recording();
    const reference = [0, 1].map((i) => windowChain(job(assigner, 'count-sliced', 2), i, uninterrupted));
    untilCut(reference);
    feed(reference, [caughtUp, ...rest]);

    const out = new Recording();
    const old = [0, 1].map((i) => windowChain(job(assigner, 'count-sliced', 2), i, out));
    untilCut(old);
    const snapshots = old.map((r) => r.snapshotState());
    const restored = [0, 1, 2].map((i) => windowChain(job(assigner, 'count-sliced', 3), i, out, snapshots));
    // As after a real restore, the inputs put their watermark out again first.
    feed(restored, [caughtUp, ...rest]);
    assert.deepEqual(out.lines.sort(), uninterrupted.lines.sort());
    // Subtask 1's windows between its watermark and subtask 0's fired after the restore, once.
    assert.ok(out.lines.length > 1000);
  });
});
