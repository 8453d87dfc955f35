import assert from 'node:assert/strict';
import type { Output, SinkContext, SinkWriter } from '../../../lib/dataflow/collector.js';
import { StreamEnvironment } from '../../../lib/dataflow/environment.js';
import type { BroadcastState } from '../../../lib/dataflow/functions.js';
import { buildJobGraph } from '../../../lib/dataflow/jobgraph.js';
import { keyGroupRangeFor } from '../../../lib/dataflow/keygroups.js';
import { ChainRunner, type ChainRunnerOptions } from '../../../lib/dataflow/operators.js';
import { OutputTag } from '../../../lib/dataflow/side-outputs.js';
import { HeapKeyedStateBackend } from '../../../lib/dataflow/state.js';
import { InternalTimerService, TimeDomain, TimerQueue, type FiredTimer, type ProcessingTimeService } from '../../../lib/dataflow/timers.js';
import { BoundedOutOfOrdernessWatermarks, MAX_WATERMARK, NO_TIMESTAMP, WatermarkStrategy, WatermarkValve, type WatermarkOutput } from '../../../lib/dataflow/watermarks.js';
import { CountEvictor, DeltaEvictor, TimeEvictor } from '../../../lib/dataflow/evictors.js';
import {
  CountTrigger,
  EventTimeSessionWindows,
  mergeSessions,
  SlidingEventTimeWindows,
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
  windowStart,
} from '../../../lib/dataflow/windows.js';
import { RecordDeserializer, RecordSerializer, StreamEvent } from '../../../lib/network/buffer.js';
import { ResultPartition } from '../../../lib/network/result-partition.js';
import { SimulatedClock } from '../../../lib/util/simulated-clock.js';

/** What a valve or a generator put out, in order. */
class Events implements WatermarkOutput {
  readonly seen: string[] = [];
  watermark(wm: number): void {
    this.seen.push(`wm ${wm}`);
  }
  status(idle: boolean): void {
    this.seen.push(idle ? 'idle' : 'active');
  }
  emitWatermark(wm: number): void {
    this.watermark(wm);
  }
  markIdle(): void {
    this.status(true);
  }
  markActive(): void {
    this.status(false);
  }
}

function simulatedProcessingTime(clock: SimulatedClock): ProcessingTimeService {
  return {
    now: () => clock.now(),
    schedule: (at, fn) => {
      const handle = clock.setTimeout(fn, Math.max(0, at - clock.now()));
      return () => clock.clearTimeout(handle);
    },
  };
}

/** A chain output that records records with timestamps, side outputs and watermarks. */
class RecordingOutput implements Output {
  readonly records: [unknown, number][] = [];
  readonly side: [string, unknown, number][] = [];
  readonly watermarks: number[] = [];
  emit(record: unknown, timestamp: number): void {
    this.records.push([record, timestamp]);
  }
  emitWatermark(wm: number): void {
    this.watermarks.push(wm);
  }
  emitSide(tag: string, record: unknown, timestamp: number): void {
    this.side.push([tag, record, timestamp]);
  }
}

/** The keyed vertex (index 1, or `vertexIndex`) of a job `collection -> keyBy -> <keyed part> -> collect`, as a chain runner of subtask 0 of 1. */
function keyedChain(build: (env: StreamEnvironment) => void, extra: Partial<ChainRunnerOptions> = {}, vertexIndex = 1): { runner: ChainRunner; output: RecordingOutput; sink: unknown[]; operatorIds: readonly string[] } {
  const env = new StreamEnvironment({ parallelism: 1 });
  build(env);
  const graph = env.build();
  const vertices = buildJobGraph(graph.describe()).vertices;
  const vertex = vertices[vertexIndex];
  assert.ok(vertex);
  const output = new RecordingOutput();
  const sink: unknown[] = [];
  const sinkWriter = (_ctx: SinkContext): SinkWriter => ({ write: (r) => sink.push(r) });
  return { runner: ChainRunner.create(graph, vertex.operatorIds, { subtaskIndex: 0, output, sinkWriter, ...extra }), output, sink, operatorIds: vertex.operatorIds };
}

describe('dataflow - event time: watermarks', () => {
  it('a valve puts out the minimum over its active channels, and only when it advances', () => {
    const out = new Events();
    const valve = new WatermarkValve(3, out);
    valve.inputWatermark(0, 10);
    valve.inputWatermark(1, 5);
    assert.deepEqual(out.seen, []);
    valve.inputWatermark(2, 7);
    valve.inputWatermark(1, 4); // goes back: ignored
    valve.inputWatermark(1, 20);
    assert.deepEqual(out.seen, ['wm 5', 'wm 7']);
    valve.endOfInput(2);
    assert.deepEqual(out.seen, ['wm 5', 'wm 7', 'wm 10']);
  });

  it('an idle channel holds back nothing; all idle makes the output idle; a channel back counts once it caught up', () => {
    const out = new Events();
    const valve = new WatermarkValve(2, out);
    valve.inputWatermark(0, 100);
    valve.inputStatus(1, true);
    assert.deepEqual(out.seen, ['wm 100']);
    valve.inputStatus(0, true);
    assert.deepEqual(out.seen, ['wm 100', 'idle']);
    valve.inputStatus(1, false);
    assert.deepEqual(out.seen, ['wm 100', 'idle', 'active']);
    valve.inputWatermark(1, 50); // behind the output: does not count, does not go back
    valve.inputWatermark(1, 150);
    assert.deepEqual(out.seen, ['wm 100', 'idle', 'active', 'wm 150']);
    assert.equal(valve.watermark, 150);
  });

  it('bounded out-of-orderness stays maxOutOfOrderness + 1 behind the highest timestamp; monotonous 1 behind', () => {
    const out = new Events();
    const g = new BoundedOutOfOrdernessWatermarks<number>(5);
    g.onPeriodicEmit(out); // nothing seen: no watermark
    g.onEvent(1, 100);
    g.onEvent(2, 90);
    g.onPeriodicEmit(out);
    assert.deepEqual(out.seen, ['wm 94']);
    const m = WatermarkStrategy.forMonotonousTimestamps<number>().generator(new SimulatedClock());
    m.onEvent(0, 42, out);
    m.onPeriodicEmit(out);
    assert.deepEqual(out.seen, ['wm 94', 'wm 41']);
  });

  it('idleness: no record for the timeout marks the output idle, the next record active again', async () => {
    const clock = new SimulatedClock();
    const out = new Events();
    const g = WatermarkStrategy.forBoundedOutOfOrderness<number>(0).withIdleness(1000).generator(clock);
    g.onEvent(0, 10, out);
    g.onPeriodicEmit(out);
    await clock.advance(999);
    g.onPeriodicEmit(out);
    await clock.advance(1);
    g.onPeriodicEmit(out);
    g.onPeriodicEmit(out); // stays idle, says it once
    g.onEvent(0, 20, out);
    g.onPeriodicEmit(out);
    assert.deepEqual(out.seen, ['wm 9', 'wm 9', 'idle', 'active', 'wm 19']);
  });

  it('timestamps and watermarks travel in the buffers in order with the records, on the fast and on the msgpackr path', () => {
    const buffers: ArrayBuffer[] = [];
    const lengths: number[] = [];
    const partition = new ResultPartition(['ch'], () => 0, new RecordSerializer(), {
      sendBuffer: (_ch, b) => {
        buffers.push(b.data);
        lengths.push(b.length);
      },
      sendEndOfPartition: () => undefined,
      sendBarrier: () => undefined,
    });
    partition.subpartition('ch')?.addCredit(10);
    partition.emit('plain');
    partition.emit(['a', 1], 1000);
    partition.emitEvent(StreamEvent.Watermark, 999);
    partition.emit({ object: 'goes to msgpackr', n: 1 }, 2000);
    partition.emitEvent(StreamEvent.Idle, 0);
    partition.emit('after the slow path', -5);
    partition.emitEvent(StreamEvent.Active, 0);
    partition.emit({ again: true });
    partition.finish();
    const seen: unknown[] = [];
    const d = new RecordDeserializer();
    let records = 0;
    for (let i = 0; i < buffers.length; i++) {
      records += d.forEach(buffers[i] as ArrayBuffer, lengths[i] as number, (r, ts) => seen.push([r, ts]), (e, wm) => seen.push(e === StreamEvent.Watermark ? `wm ${wm}` : e));
    }
    assert.equal(records, 5);
    assert.deepEqual(seen, [
      ['plain', NO_TIMESTAMP],
      [['a', 1], 1000],
      'wm 999',
      [{ object: 'goes to msgpackr', n: 1 }, 2000],
      'idle',
      ['after the slow path', -5],
      'active',
      [{ again: true }, NO_TIMESTAMP],
    ]);
  });
});

describe('dataflow - event time: window assigners and sessions', () => {
  it('tumbling and sliding windows, negative timestamps and offsets', () => {
    assert.deepEqual(TumblingEventTimeWindows.of(10).assign(15), [{ start: 10, end: 20 }]);
    assert.deepEqual(TumblingEventTimeWindows.of(10).assign(-1), [{ start: -10, end: 0 }]);
    assert.deepEqual(TumblingEventTimeWindows.of(10, 3).assign(2), [{ start: -7, end: 3 }]);
    assert.equal(windowStart(20, 0, 10), 20);
    assert.deepEqual(SlidingEventTimeWindows.of(10, 5).assign(12), [
      { start: 10, end: 20 },
      { start: 5, end: 15 },
    ]);
    assert.equal(SlidingEventTimeWindows.of(60, 10).assign(0).length, 6);
    assert.throws(() => TumblingEventTimeWindows.of(0), { code: 'INVALID_JOB_GRAPH' });
    const env = new StreamEnvironment();
    const keyed = env.fromSequence(1, 2).keyBy((n) => n % 2);
    assert.throws(() => keyed.window(EventTimeSessionWindows.withGap(5)).aggregate({ createAccumulator: () => 0, add: (_n, a) => a + 1, getResult: (a) => a }), /merge\(a, b\)/);
  });

  it('a session window merges every window it overlaps or touches, transitively', () => {
    const windows = [
      { start: 0, end: 10 },
      { start: 12, end: 22 },
      { start: 40, end: 50 },
    ];
    const { merged, absorbed } = mergeSessions(windows, { start: 9, end: 19 });
    assert.deepEqual(merged, { start: 0, end: 22 });
    assert.equal(absorbed.length, 2);
    assert.deepEqual(mergeSessions(windows, { start: 30, end: 35 }), { merged: { start: 30, end: 35 }, absorbed: [] });
    assert.deepEqual(mergeSessions(windows, { start: 50, end: 60 }).merged, { start: 40, end: 60 });
  });
});

describe('dataflow - event time: timers', () => {
  it('a timer queue orders by time, then registration', () => {
    const q = new TimerQueue();
    let seq = 0;
    for (const [ts, ns, key] of [[5, 'b', 'x'], [1, 'a', 'y'], [5, 'a', 'z'], [3, '', 'k'], [5, 'c', 'w']] as const) q.push({ timestamp: ts, namespace: ns, key, seq: seq++ });
    const out: string[] = [];
    for (let t = q.pop(); t !== undefined; t = q.pop()) out.push(`${t.timestamp}${t.namespace}${String(t.key)}`);
    assert.deepEqual(out, ['1ay', '3k', '5bx', '5az', '5cw']);
  });

  it('timers fire once per (key, namespace, time), deleted ones never, and they restore (rescaled) from keyed state', async () => {
    const clock = new SimulatedClock();
    const pt = simulatedProcessingTime(clock);
    const backend = new HeapKeyedStateBackend({ maxParallelism: 8, keyGroupRange: keyGroupRangeFor(8, 1, 0) });
    const fired: FiredTimer[] = [];
    const timers = new InternalTimerService(backend, pt, (t) => fired.push(t));
    for (const key of ['a', 'b', 'c', 'd']) {
      backend.setCurrentKey(key);
      timers.register(TimeDomain.EventTime, '', 100);
      timers.register(TimeDomain.EventTime, '', 100); // the same timer
      timers.register(TimeDomain.EventTime, '', 200);
    }
    backend.setCurrentKey('b');
    timers.delete(TimeDomain.EventTime, '', 200);
    timers.register(TimeDomain.ProcessingTime, 'p', clock.now() + 50);
    timers.advanceWatermark(100);
    assert.deepEqual(fired.map((t) => `${String(t.key)}@${t.timestamp}`), ['a@100', 'b@100', 'c@100', 'd@100']);
    await clock.advance(50);
    assert.deepEqual(fired.slice(4).map((t) => `${String(t.key)}@${t.domain}/${t.namespace}`), ['b@processing/p']);

    // What is left (event-time timers at 200 of a, c, d) restores into two backends of half the key groups each.
    const snapshot = backend.snapshot();
    const restoredFired: string[] = [];
    for (let i = 0; i < 2; i++) {
      const half = new HeapKeyedStateBackend({ maxParallelism: 8, keyGroupRange: keyGroupRangeFor(8, 2, i) });
      half.restore(snapshot);
      const t2 = new InternalTimerService(half, pt, (t) => restoredFired.push(`${String(t.key)}@${t.timestamp}`));
      t2.restore();
      t2.advanceWatermark(MAX_WATERMARK);
      t2.advanceWatermark(MAX_WATERMARK);
    }
    assert.deepEqual(restoredFired.sort(), ['a@200', 'c@200', 'd@200']);
  });
});

describe('dataflow - event time: windows in a chain', () => {
  const late = new OutputTag<[string, number]>('late');

  it('tumbling event-time counts: on time, late within the allowed lateness (fires again), too late to the side output', () => {
    const { runner, output } = keyedChain((env) => {
      const counted = env
        .fromCollection<[string, number]>([])
        .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<[string, number]>().withTimestampAssigner((r) => r[1]))
        .keyBy((r) => r[0])
        .window(TumblingEventTimeWindows.of(10))
        .allowedLateness(5)
        .sideOutputLateData(late)
        .aggregate<number, number, [string, number, number]>(
          { createAccumulator: () => 0, add: (_r, n) => n + 1, getResult: (n) => n },
          (key, ctx, results, out) => out.collect([key, ctx.window.start, results[0] as number]),
        );
      counted.collect();
      counted.getSideOutput(late).collect();
    });
    runner.push(['a', 1], 1);
    runner.push(['a', 9], 9);
    runner.push(['b', 3], 3);
    runner.processWatermark(9); // window [0, 10) ends at 9: fires
    assert.deepEqual(output.records, [
      [['a', 0, 2], 9],
      [['b', 0, 1], 9],
    ]);
    runner.push(['a', 5], 5); // late but within 5 ms of lateness: fires again with 3
    runner.processWatermark(14); // cleanup of [0, 10) at 9 + 5
    runner.push(['a', 2], 2); // too late
    runner.push(['a', 12], 12);
    runner.processWatermark(MAX_WATERMARK);
    assert.deepEqual(output.records.slice(2), [
      [['a', 0, 3], 9],
      [['a', 10, 1], 19],
    ]);
    assert.deepEqual(output.side, [['late', ['a', 2], 2]]);
    assert.deepEqual(output.watermarks, [9, 14, MAX_WATERMARK]);
  });

  it('session windows merge per key; reduce emits the merged result at the session end', () => {
    const { runner, sink } = keyedChain((env) => {
      env
        .fromCollection<[string, number]>([])
        .keyBy((r) => r[0])
        .window(EventTimeSessionWindows.withGap(10))
        .reduce((a, b) => [a[0], a[1] + b[1]] as [string, number])
        .collect();
    });
    for (const [k, ts] of [['a', 0], ['a', 25], ['a', 8], ['b', 5], ['a', 17]] as const) runner.push([k, 1], ts);
    // a: [0,10) + [8,18) + [17,27) + [25,35) -> one session [0, 35) of 4; b: [5, 15)
    runner.processWatermark(MAX_WATERMARK);
    assert.deepEqual(sink, [
      ['b', 1],
      ['a', 4],
    ]);
  });

  it('an event-time window refuses a record without a timestamp, naming the fix', () => {
    const { runner } = keyedChain((env) => {
      env.fromCollection<number>([]).keyBy((n) => n).window(TumblingEventTimeWindows.of(10)).reduce((a, b) => a + b).collect();
    });
    assert.throws(() => runner.push(1), /assignTimestampsAndWatermarks/);
  });

  it('processing-time tumbling windows fire on the clock', async () => {
    const clock = new SimulatedClock(1_000_000);
    const { runner, sink } = keyedChain(
      (env) => {
        env.fromCollection<string>([]).keyBy((s) => s).window(TumblingProcessingTimeWindows.of(100)).process<[string, number, number]>((key, ctx, items, out) => out.collect([key, ctx.window.start, items.length])).collect();
      },
      { processingTime: simulatedProcessingTime(clock) },
    );
    runner.push('x');
    runner.push('x');
    await clock.advance(50);
    runner.push('y');
    assert.deepEqual(sink, []);
    await clock.advance(50);
    assert.deepEqual(sink, [
      ['x', 1_000_000, 2],
      ['y', 1_000_000, 1],
    ]);
    runner.finish();
  });

  it('a keyed process function with event-time timers: fires once, emits at the timer time, state per key', () => {
    const { runner, sink } = keyedChain((env) => {
      env
        .fromCollection<[string, number]>([])
        .keyBy((r) => r[0])
        .process<[string, number, number]>({
          processElement(_r, ctx) {
            const count = ctx.getValueState<number>('count');
            count.update((count.value() ?? 0) + 1);
            ctx.timerService().registerEventTimeTimer((ctx.timestamp() as number) + 100);
          },
          onTimer(ts, ctx, out) {
            assert.equal(ctx.timestamp(), ts);
            out.collect([ctx.currentKey, ts, ctx.getValueState<number>('count').value() as number]);
          },
        })
        .collect();
    });
    runner.push(['a', 1], 0);
    runner.push(['a', 1], 0); // the same timer again
    runner.push(['b', 1], 50);
    runner.processWatermark(99);
    assert.deepEqual(sink, []);
    runner.processWatermark(100);
    runner.processWatermark(1000);
    assert.deepEqual(sink, [
      ['a', 100, 2],
      ['b', 150, 1],
    ]);
  });
});

describe('dataflow - event time: a restored timestamp assigner', () => {
  const build = (env: StreamEnvironment): void => {
    env
      .fromCollection([5, 100, 20, 200])
      .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n))
      .uid('times')
      .collect();
  };
  const sourceChain = (extra: Partial<ChainRunnerOptions>): { runner: ChainRunner; output: RecordingOutput } => {
    const env = new StreamEnvironment({ parallelism: 1 });
    build(env);
    const graph = env.build();
    const vertex = buildJobGraph(graph.describe()).vertices[0];
    assert.ok(vertex);
    const output = new RecordingOutput();
    // Stop the chain before its sink: the test reads what reaches the sink through a tail output.
    const ids = vertex.operatorIds.slice(0, -1);
    return { runner: ChainRunner.create(graph, ids, { subtaskIndex: 0, output, sinkWriter: () => assert.fail('no sink'), ...extra }), output };
  };

  it('checkpoints its watermark, puts it out again first after a restore, and never goes back behind it', () => {
    const first = sourceChain({ processingTime: simulatedProcessingTime(new SimulatedClock()) });
    first.runner.pollSource(2);
    first.runner.emitPeriodicWatermarks();
    assert.deepEqual(first.output.watermarks, [99]);
    const snapshot = first.runner.snapshotState();
    assert.deepEqual(snapshot.operatorState, { times: { watermark: 99 } });

    const restored = sourceChain({ ...(snapshot.sourcePositions === undefined ? {} : { sourcePositions: snapshot.sourcePositions }), restoredOperatorState: { times: [{ watermark: 99 }] }, processingTime: simulatedProcessingTime(new SimulatedClock()) });
    restored.runner.open();
    restored.runner.pollSource(1); // 20: its own watermark (19) would go back
    restored.runner.emitPeriodicWatermarks();
    assert.deepEqual(restored.output.watermarks, [99]);
    assert.deepEqual(restored.output.records, [[20, 20]]);
    while (restored.runner.pollSource(10));
    restored.runner.emitPeriodicWatermarks();
    assert.deepEqual(restored.output.watermarks, [99, MAX_WATERMARK]);
  });

  it('rescaled, an assigner restores the lowest watermark of the old subtasks', () => {
    const { runner, output } = sourceChain({ restoredOperatorState: { times: [{ watermark: 50 }, { watermark: 30 }, { watermark: 70 }] } });
    runner.open();
    assert.deepEqual(output.watermarks, [30]);
  });
});

describe('dataflow - several inputs and side outputs', () => {
  it('union: one operator reads every input, each an edge of its own', () => {
    const env = new StreamEnvironment({ parallelism: 2 });
    const a = env.fromSequence(1, 3);
    const b = env.fromSequence(10, 12).map((n) => n * 2);
    const c = env.fromCollection([7]);
    a.union(b, c).keyBy((n) => n % 2).sum().collect();
    const d = env.describe();
    const sum = d.operators.find((o) => o.kind === 'sum');
    assert.ok(sum);
    assert.deepEqual(d.edges.filter((e) => e.target === sum.id).map((e) => e.partitioner), ['hash', 'hash', 'hash']);
  });

  it('connect: co-map and co-flatMap apply a function per input; the second input is marked in the graph', () => {
    const env = new StreamEnvironment({ parallelism: 1 });
    const words = env.fromCollection(['a b', 'c']);
    const numbers = env.fromCollection([1, 2]);
    words.connect(numbers).flatMap((s) => s.split(' '), (n) => [String(n), String(-n)]).collect();
    const graph = env.build();
    const vertices = buildJobGraph(graph.describe()).vertices;
    const co = vertices[2];
    assert.ok(co);
    assert.deepEqual(graph.describe().edges.map((e) => e.input ?? 1), [1, 2, 1]);
    const sink: unknown[] = [];
    const runner = ChainRunner.create(graph, co.operatorIds, { subtaskIndex: 0, output: new RecordingOutput(), sinkWriter: () => ({ write: (r) => sink.push(r) }) });
    assert.equal(runner.isTwoInput, true);
    runner.push('a b');
    runner.push2(1);
    runner.push('c');
    assert.deepEqual(sink, ['a', 'b', '1', '-1', 'c']);
  });

  it('a keyed co-process keys each input by its own selector and shares state per key', () => {
    const { runner, sink } = keyedChain((env) => {
      const orders = env.fromCollection<[string, number]>([]);
      const payments = env.fromCollection<{ user: string; paid: number }>([]);
      orders
        .connect(payments)
        .keyBy((o) => o[0], (p) => p.user)
        .process<[string, number]>({
          processElement1(o, ctx) {
            const owed = ctx.getValueState<number>('owed');
            owed.update((owed.value() ?? 0) + o[1]);
          },
          processElement2(p, ctx, out) {
            const owed = ctx.getValueState<number>('owed');
            owed.update((owed.value() ?? 0) - p.paid);
            out.collect([ctx.currentKey, owed.value() as number]);
          },
        })
        .collect();
    }, {}, 2);
    runner.push(['ann', 10]);
    runner.push(['bob', 5]);
    runner.push2({ user: 'ann', paid: 4 });
    runner.push(['ann', 1]);
    runner.push2({ user: 'ann', paid: 7 });
    runner.push2({ user: 'bob', paid: 5 });
    assert.deepEqual(sink, [['ann', 6], ['ann', 0], ['bob', 0]]);
  });

  it('a process function emits side outputs; an unkeyed broadcast process reads the rules in processElement and may not change them there', () => {
    const small = new OutputTag<number>('small');
    const env = new StreamEnvironment({ parallelism: 1 });
    const rules = env.fromCollection<number>([]);
    const split = env
      .fromCollection<number>([])
      .connect(rules.broadcast('limit'))
      .process<number>({
        processElement(n, ctx, out) {
          const limit = ctx.getBroadcastState<string, number>('limit').get('max') ?? 0;
          if (n > limit) out.collect(n);
          else ctx.output(small, n);
          // A JavaScript job has no types to stop it: the state refuses.
          if (n === 99) (ctx.getBroadcastState<string, number>('limit') as BroadcastState<string, number>).put('max', 0);
        },
        processBroadcastElement(max, ctx) {
          ctx.getBroadcastState<string, number>('limit').put('max', max);
        },
      });
    split.collect();
    split.getSideOutput(small).collect();
    const graph = env.build();
    const vertex = buildJobGraph(graph.describe()).vertices.find((v) => v.operatorIds.length === 1 && graph.operator(v.operatorIds[0] as string).logic.kind === 'broadcastProcess');
    assert.ok(vertex);
    assert.deepEqual(graph.describe().edges.filter((e) => e.source === vertex.id).map((e) => e.sideOutput ?? 'main'), ['main', 'small']);
    const output = new RecordingOutput();
    const runner = ChainRunner.create(graph, vertex.operatorIds, { subtaskIndex: 0, output, sinkWriter: () => assert.fail('no sink') });
    runner.push2(10);
    runner.push(5, 1);
    runner.push(50, 2);
    assert.deepEqual(output.records, [[50, 2]]);
    assert.deepEqual(output.side, [['small', 5, 1]]);
    assert.throws(() => runner.push(99), /read only in processElement/);
  });
});

describe('dataflow - joins', () => {
  it('a window join pairs the records of both sides with equal keys in the same window', () => {
    const env = new StreamEnvironment({ parallelism: 1 });
    const persons = env.fromCollection<{ id: number; name: string }>([]);
    const auctions = env.fromCollection<{ seller: number; item: string }>([]);
    persons
      .join(auctions)
      .where((p) => p.id)
      .equalTo((a) => a.seller)
      .window(TumblingEventTimeWindows.of(10))
      .apply((p, a) => `${p.name} sells ${a.item}`)
      .collect();
    const graph = env.build();
    const vertices = buildJobGraph(graph.describe()).vertices;
    assert.deepEqual(vertices.map((v) => v.name), ['Source: collection -> Join: left', 'Source: collection -> Join: right', 'Window Join -> Sink: collect']);
    const sink: unknown[] = [];
    const runner = ChainRunner.create(graph, (vertices[2] as { operatorIds: readonly string[] }).operatorIds, { subtaskIndex: 0, output: new RecordingOutput(), sinkWriter: () => ({ write: (r) => sink.push(r) }) });
    runner.push([1, { id: 1, name: 'ann' }], 1);
    runner.push([2, { seller: 1, item: 'a lamp' }], 5);
    runner.push([2, { seller: 1, item: 'a chair' }], 12); // the next window
    runner.push([2, { seller: 2, item: 'a bike' }], 3); // nobody with id 2
    runner.push([1, { id: 1, name: 'ann' }], 15);
    runner.processWatermark(MAX_WATERMARK);
    assert.deepEqual(sink, ['ann sells a lamp', 'ann sells a chair']);
  });

  it('an interval join pairs records within [lower, upper] of each other, drops late ones, and clears its buffers by timers', () => {
    const env = new StreamEnvironment({ parallelism: 1 });
    const clicks = env.fromCollection<[string, string]>([]).keyBy((c) => c[0]);
    const views = env.fromCollection<[string, string]>([]).keyBy((v) => v[0]);
    clicks
      .intervalJoin(views)
      .between(-5, 10)
      .process<string>((c, v, ctx, out) => out.collect(`${c[1]}@${ctx.leftTimestamp} ${v[1]}@${ctx.rightTimestamp}`))
      .collect();
    const graph = env.build();
    const vertices = buildJobGraph(graph.describe()).vertices;
    const join = vertices[2];
    assert.ok(join);
    const sink: unknown[] = [];
    const runner = ChainRunner.create(graph, join.operatorIds, { subtaskIndex: 0, output: new RecordingOutput(), sinkWriter: () => ({ write: (r) => sink.push(r) }) });
    runner.push(['u', 'c1'], 100);
    runner.push2(['u', 'v1'], 96); // 100 - 4: within
    runner.push2(['u', 'v2'], 111); // 100 + 11: outside
    runner.push2(['x', 'v3'], 100); // another key
    runner.push(['u', 'c2'], 105); // v1 at -9: outside; v2 at +6: within
    assert.deepEqual(sink, ['c1@100 v1@96', 'c2@105 v2@111']);
    runner.processWatermark(200); // every buffer is cleared
    const backend = runner.stateBackend(join.operatorIds[0] as string);
    assert.equal(backend?.numKeys('left'), 0);
    assert.equal(backend?.numKeys('right'), 0);
    runner.push2(['u', 'late'], 150); // behind the watermark: dropped
    runner.push(['u', 'c3'], 205);
    assert.equal(sink.length, 2);
    assert.throws(() => runner.push(['u', 'no time']), /timestamps on both inputs/);
  });
});

describe('dataflow - several inputs: what the graph refuses', () => {
  it('a stream joined with itself (union or connect) is refused with what to do', () => {
    const env = new StreamEnvironment({ parallelism: 1 });
    const s = env.fromSequence(1, 3);
    s.union(s).collect();
    assert.throws(() => env.build(), /reads 'op-0' twice .*map one side first/);
  });

  it('connect: keying one side only is refused', () => {
    const env = new StreamEnvironment({ parallelism: 1 });
    const a = env.fromSequence(1, 3).keyBy((n) => n);
    const b = env.fromSequence(1, 3);
    assert.throws(() => a.connect(b).process({ processElement1: () => undefined, processElement2: () => undefined }), /key both inputs or neither/);
  });
});

describe('dataflow - window triggers', () => {
  it('CountTrigger fires every n records of a window; the window is still cleared at its end', () => {
    const { runner, sink } = keyedChain((env) => {
      env
        .fromCollection<string>([])
        .keyBy((s) => s)
        .window(TumblingEventTimeWindows.of(10))
        .trigger(CountTrigger.of(2))
        .process<[string, number, number]>((key, ctx, items, out) => out.collect([key, ctx.window.start, items.length]))
        .collect();
    });
    for (const ts of [1, 2, 3, 4, 5]) runner.push('a', ts);
    runner.processWatermark(9); // the window ends: cleared, no final firing (as Flink's CountTrigger)
    runner.push('a', 11);
    runner.push('a', 12);
    runner.processWatermark(MAX_WATERMARK);
    assert.deepEqual(sink, [
      ['a', 0, 2],
      ['a', 0, 4],
      ['a', 10, 2],
    ]);
  });

  it('a custom trigger: early results per record, purge, and its own timer at the window end firing before the cleanup', () => {
    const { runner, sink } = keyedChain((env) => {
      env
        .fromCollection<number>([])
        .keyBy(() => 'k')
        .window(TumblingEventTimeWindows.of(100))
        .trigger({
          onElement: (n, _ts, ctx) => {
            ctx.registerEventTimeTimer(ctx.window.end - 1);
            return (n as number) < 0 ? 'purge' : 'fire';
          },
          onEventTime: () => 'fire',
        })
        .reduce((a, b) => a + b)
        .collect();
    });
    runner.push(1, 10);
    runner.push(2, 20);
    runner.push(-100, 30); // purged: the sum starts again
    runner.push(5, 40);
    runner.processWatermark(99);
    assert.deepEqual(sink, [1, 3, 5, 5]);
    // On session windows a trigger must merge.
    assert.throws(() => new StreamEnvironment().fromSequence(1, 2).keyBy((n) => n).window(EventTimeSessionWindows.withGap(5)).trigger({ onElement: () => 'fire' }), /must merge: give it onMerge/);
  });

  it('a merging trigger on session windows: CountTrigger counts across merged sessions; merged windows leave no trigger state or timers', () => {
    const { runner, sink, operatorIds } = keyedChain((env) => {
      env
        .fromCollection<string>([])
        .keyBy((s) => s)
        .window(EventTimeSessionWindows.withGap(10))
        .trigger(CountTrigger.of(3))
        .process<[string, number, number, number]>((key, ctx, items, out) => out.collect([key, ctx.window.start, ctx.window.end, items.length]))
        .collect();
    });
    runner.push('a', 0); // [0,10): 1
    runner.push('a', 30); // [30,40): 1
    runner.push('a', 5); // [0,15) from [0,10): 2
    runner.push('a', 20); // [20,40) from [30,40): 2
    assert.deepEqual(sink, [], 'no session has 3 records yet');
    runner.push('a', 14); // [0,40) from both: 2 + 2 + 1 >= 3, fires with all five
    assert.deepEqual(sink, [['a', 0, 40, 5]]);
    runner.push('a', 35); // [0,45): counting from 0 again after the firing
    runner.push('b', 100); // another key's session
    const backend = runner.stateBackend(operatorIds[0] as string)!;
    backend.setCurrentKey('a');
    assert.deepEqual([...backend.getMapState<number, string[]>('__timers.event').entries()], [[44, ['t0:45']]], "only the live session's cleanup timer: the merged ones' are deleted");
    runner.processWatermark(MAX_WATERMARK); // the sessions end: cleared, no final firing (as Flink's CountTrigger)
    assert.deepEqual(sink, [['a', 0, 40, 5]]);
    assert.equal(backend.numKeys('trigger-state'), 0, 'no trigger state is left of merged or cleared sessions');
    assert.equal(backend.numKeys('window-contents'), 0);
    assert.equal(backend.numKeys('session-windows'), 0);
  });
});

describe('dataflow - window evictors', () => {
  it('CountEvictor keeps the last n records for the function; evicted ones leave the window, so a late refiring sees only what stayed', () => {
    const { runner, sink } = keyedChain((env) => {
      env
        .fromCollection<number>([])
        .keyBy(() => 'k')
        .window(TumblingEventTimeWindows.of(10))
        .allowedLateness(100)
        .evictor(CountEvictor.of(2))
        .process<number[]>((_key, _ctx, items, out) => out.collect([...items]))
        .collect();
    });
    for (const [n, ts] of [[1, 1], [2, 2], [3, 3], [4, 4]] as const) runner.push(n, ts);
    runner.processWatermark(9);
    runner.push(5, 5); // late, within the lateness: fires again over the 2 kept and this one
    assert.deepEqual(sink, [[3, 4], [4, 5]]);
  });

  it('TimeEvictor keeps what is within its span of the newest record; a reduce and an aggregate run over what stays, on sliding windows too', () => {
    const summed = keyedChain((env) => {
      env.fromCollection<number>([]).keyBy(() => 'k').window(TumblingEventTimeWindows.of(10)).evictor(TimeEvictor.of(5)).reduce((a, b) => a + b).collect();
    });
    const counted = keyedChain((env) => {
      env
        .fromCollection<number>([])
        .keyBy(() => 'k')
        .window(SlidingEventTimeWindows.of(10, 5))
        .evictor(CountEvictor.of(1))
        .aggregate({ createAccumulator: () => 0, add: (_v, acc: number) => acc + 1, getResult: (acc) => acc })
        .collect();
    });
    for (const { runner } of [summed, counted]) {
      for (const ts of [1, 2, 8, 9]) runner.push(ts, ts);
      runner.processWatermark(MAX_WATERMARK);
    }
    assert.deepEqual(summed.sink, [17], 'ts 1 and 2 are at or before 9 - 5: evicted; 8 + 9');
    assert.deepEqual(counted.sink, [1, 1, 1], 'each of the three sliding windows counts the one record left');
  });

  it('evicts after the function when asked, and on merging session windows with a trigger: the merged records are one list', () => {
    const { runner, sink } = keyedChain((env) => {
      env
        .fromCollection<number>([])
        .keyBy(() => 'k')
        .window(EventTimeSessionWindows.withGap(10))
        .trigger(CountTrigger.of(2))
        .evictor(CountEvictor.of(1, true))
        .process<number[]>((_key, _ctx, items, out) => out.collect([...items]))
        .collect();
    });
    runner.push(1, 0); // [0,10)
    runner.push(2, 30); // [30,40)
    runner.push(3, 15); // [15,25): no merge yet (touching needs 10..15 or 25..30)
    runner.push(4, 22); // merges [15,25) and [30,40) into [15,40): 2 counted, fires over all 3, keeps the last
    assert.deepEqual(sink, [[3, 2, 4]]);
    runner.push(5, 5); // merges [0,10) into [0,15) and with [15,40): count 1 + 0 + 1 = 2: fires over [1, 4, 5]
    assert.equal(sink.length, 2);
    assert.deepEqual([...(sink[1] as number[])].sort(), [1, 4, 5]);
  });

  it('an evictor must have a hook, and the built-ins check their arguments', () => {
    const windowed = new StreamEnvironment().fromSequence(1, 2).keyBy((n) => n).window(TumblingEventTimeWindows.of(10));
    assert.throws(() => windowed.evictor({}), /evictBefore\(records, ctx\) or evictAfter/);
    assert.throws(() => CountEvictor.of(0), /count >= 1/);
    assert.throws(() => TimeEvictor.of(-1), /duration >= 0/);
    // DeltaEvictor: records whose delta to the last one reaches the threshold go.
    const ctx = { window: { start: 0, end: 10 }, currentWatermark: () => 0, currentProcessingTime: () => 0 };
    const records = [1, 5, 8, 9].map((value, timestamp) => ({ value, timestamp }));
    const delta = DeltaEvictor.of(4, (r: number, last: number) => last - r);
    assert.deepEqual(delta.evictBefore?.(records, ctx).map((r) => r.value), [8, 9]);
    assert.equal(DeltaEvictor.of(4, () => 0, true).evictBefore, undefined, 'after the function when asked');
  });
});
