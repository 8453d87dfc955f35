import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArrayOutput, type SinkContext, type SinkWriter } from '../../../lib/dataflow/collector.js';
import { type DataStream, type KeyedStream, StreamEnvironment } from '../../../lib/dataflow/environment.js';
import { UserFunctionError } from '../../../lib/dataflow/errors.js';
import { buildJobGraph, type JobVertex } from '../../../lib/dataflow/jobgraph.js';
import { keyGroupFor, keyGroupRangeFor } from '../../../lib/dataflow/keygroups.js';
import { ChainRunner, type ChainRunnerOptions } from '../../../lib/dataflow/operators.js';
import { ALL_CHANNELS, createChannelSelector } from '../../../lib/dataflow/partitioners.js';
import { formatPrintLine, textSinkFile } from '../../../lib/dataflow/sinks.js';
import type { StreamGraph } from '../../../lib/dataflow/streamgraph.js';

interface Harness {
  graph: StreamGraph;
  vertices: readonly JobVertex[];
  runner(vertexIndex: number, subtaskIndex?: number, extra?: Partial<ChainRunnerOptions>): { runner: ChainRunner; output: ArrayOutput; sinks: Map<string, ArrayOutput & { closed?: boolean; ctx?: SinkContext }> };
}

function harness(build: (env: StreamEnvironment) => void, options = {}): Harness {
  const env = new StreamEnvironment(options);
  build(env);
  const graph = env.build();
  const vertices = buildJobGraph(graph.describe()).vertices;
  return {
    graph,
    vertices,
    runner(vertexIndex, subtaskIndex = 0, extra = {}) {
      const vertex = vertices[vertexIndex];
      assert.ok(vertex, `vertex ${vertexIndex}`);
      const output = new ArrayOutput();
      const sinks = new Map<string, ArrayOutput & { closed?: boolean; ctx?: SinkContext }>();
      const sinkWriter = (ctx: SinkContext): SinkWriter => {
        const writer = Object.assign(new ArrayOutput(), { ctx, closed: false, close: () => (writer.closed = true) });
        sinks.set(ctx.operatorId, writer);
        return writer;
      };
      return { runner: ChainRunner.create(graph, vertex.operatorIds, { subtaskIndex, output, sinkWriter, ...extra }), output, sinks };
    },
  };
}

describe('dataflow - chain runner', () => {
  it('runs a source chain of map, filter and flatMap into a sink', () => {
    const h = harness((env) =>
      env
        .fromSequence(1, 10)
        .map((x) => x * 10)
        .filter((x) => x % 20 === 0)
        .flatMap((x) => [x, -x])
        .collect(),
    );
    assert.equal(h.vertices.length, 1);
    const { runner, sinks, output } = h.runner(0);
    assert.equal(runner.isSource, true);
    assert.equal(runner.pollSource(3), true);
    assert.equal(Object.values(runner.sourcePositions() ?? {}).reduce((a, b) => a + b, 0), 3, 'three records read over its splits');
    while (runner.pollSource(2));
    runner.finish();
    const sink = sinks.get('op-4');
    assert.deepEqual(sink?.records, [20, -20, 40, -40, 60, -60, 80, -80, 100, -100]);
    assert.equal(sink?.closed, true);
    assert.deepEqual(sink?.ctx, { operatorId: 'op-4', operatorName: 'Sink: collect', spec: { kind: 'collect' }, subtaskIndex: 0, parallelism: 1 });
    assert.deepEqual(output.records, [], 'nothing leaves a chain that ends in a sink');
  });

  it('splits sources over subtasks and resumes from split positions', () => {
    const h = harness((env) => env.fromSequence(1, 10).setParallelism(3).rebalance().print());
    const read = (index: number, sourcePositions: Record<string, number> = {}) => {
      const { runner, output } = h.runner(0, index, { sourcePositions });
      while (runner.pollSource(100));
      return output.records;
    };
    assert.deepEqual([read(0), read(1), read(2)], [[1, 2, 3], [4, 5, 6], [7, 8, 9, 10]]);
    const { runner: partial } = h.runner(0, 2);
    partial.pollSource(2);
    assert.deepEqual(read(2, partial.sourcePositions()), [9, 10]);

    const c = harness((env) => env.fromCollection(['a', 'b', 'c', 'd', 'e']).setParallelism(2).rebalance().print());
    const { runner: r0, output: o0 } = c.runner(0, 0);
    const { runner: r1, output: o1 } = c.runner(0, 1);
    while (r0.pollSource(10) || r1.pollSource(10));
    assert.deepEqual([o0.records, o1.records], [['a', 'c', 'e'], ['b', 'd']]);

    const g = harness((env) => env.fromGenerator((i) => `g${i}`, 5).setParallelism(2).rebalance().print());
    const { runner: g1, output: go1 } = g.runner(0, 1, { sourcePositions: { '1': 1 } });
    while (g1.pollSource(10));
    assert.deepEqual(go1.records, ['g3']);
  });

  it('reads text files line by line, split over subtasks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dataflow-'));
    try {
      const path = join(dir, 'in.txt');
      const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'é'.repeat(i % 50)}`);
      writeFileSync(path, lines.join('\r\n') + '\nlast');
      const h = harness((env) => env.readTextFile(path).setParallelism(2).rebalance().print());
      const read = (index: number, sourcePositions: Record<string, number> = {}) => {
        const { runner, output } = h.runner(0, index, { sourcePositions });
        while (runner.pollSource(1000));
        runner.finish();
        return output.records;
      };
      const all = [...lines, 'last'];
      assert.deepEqual(read(0), all.filter((_, i) => i % 2 === 0));
      assert.deepEqual(read(1), all.filter((_, i) => i % 2 === 1));
      const { runner: partial, output: first } = h.runner(0, 0);
      partial.pollSource(2400);
      assert.deepEqual([...first.records, ...read(0, partial.sourcePositions())], all.filter((_, i) => i % 2 === 0), 'resumed where its splits were left');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('emits from the last operator when the chain does not end in a sink', () => {
    const h = harness((env) => env.fromSequence(1, 3).map((x) => x + 1).rebalance().print());
    const { runner, output } = h.runner(0);
    while (runner.pollSource(10));
    assert.deepEqual(output.records, [2, 3, 4]);
    const { runner: sink, sinks } = h.runner(1);
    assert.equal(sink.isSource, false);
    for (const r of output.records) sink.push(r);
    assert.deepEqual(sinks.get('op-2')?.records, [2, 3, 4]);
    assert.throws(() => sink.pollSource(1), { code: 'INVALID_JOB_GRAPH' });
  });

  it('runs keyed reduce and the three kinds of sum with state per key', () => {
    const input: [string, number][] = [['a', 1], ['b', 2], ['a', 3], ['b', 4], ['a', 5]];
    const h = harness((env) => {
      const keyed = env.fromCollection(input).keyBy((t) => t[0]);
      keyed.reduce((acc, v) => [acc[0], acc[1] * v[1]]).collect();
      keyed.sum(1).collect();
      keyed.sum((t) => t[1] * 10).collect();
      env.fromCollection([1, 2, 3, 4]).keyBy((n) => n % 2).sum().collect();
      env.fromCollection([{ k: 'x', n: 1, tag: 'first' }, { k: 'x', n: 2, tag: 'second' }]).keyBy((o) => o.k).sum('n').collect();
    });
    const run = (vertexId: string, records: unknown[]) => {
      const index = h.vertices.findIndex((v) => v.id === vertexId);
      const { runner, sinks } = h.runner(index);
      for (const r of records) runner.push(r);
      return [...sinks.values()][0]?.records;
    };
    assert.deepEqual(run('op-1', input), [['a', 1], ['b', 2], ['a', 3], ['b', 8], ['a', 15]]);
    assert.deepEqual(run('op-3', input), [['a', 1], ['b', 2], ['a', 4], ['b', 6], ['a', 9]]);
    assert.deepEqual(run('op-5', input), [['a', 10], ['b', 20], ['a', 40], ['b', 60], ['a', 90]]);
    assert.deepEqual(run('op-8', [1, 2, 3, 4]), [1, 2, 4, 6]);
    assert.deepEqual(run('op-11', [{ k: 'x', n: 1, tag: 'first' }, { k: 'x', n: 2, tag: 'second' }]), [
      { k: 'x', n: 1, tag: 'first' },
      { k: 'x', n: 3, tag: 'first' },
    ]);
    assert.throws(() => run('op-3', [['a', 'not a number']]), (err: unknown) => err instanceof UserFunctionError && /'op-3' \(Keyed Aggregation\).*not a number/.test(err.message));
  });

  it('gives a keyed process function its key and value and map state', () => {
    type Click = { user: string; page: string };
    const h = harness((env) =>
      env
        .fromCollection<Click>([])
        .keyBy((c) => c.user)
        .process<string>((click, ctx, out) => {
          const pages = ctx.getMapState<string, number>('pages');
          const total = ctx.getValueState<number>('total');
          pages.put(click.page, (pages.get(click.page) ?? 0) + 1);
          total.update((total.value() ?? 0) + 1);
          if (total.value() === 3) out.collect(`${String(ctx.currentKey)}: ${[...pages.entries()].map(([p, n]) => `${p}=${n}`).join(',')}`);
        })
        .collect(),
    );
    const { runner, sinks } = h.runner(1);
    const clicks: Click[] = [
      { user: 'ann', page: '/' },
      { user: 'bob', page: '/' },
      { user: 'ann', page: '/a' },
      { user: 'ann', page: '/' },
      { user: 'bob', page: '/b' },
    ];
    for (const c of clicks) runner.push(c);
    assert.deepEqual(sinks.get('op-2')?.records, ['ann: /=2,/a=1']);

    // Snapshot and restore through the runner: bob's third click completes his session.
    const snapshot = runner.snapshotState();
    assert.deepEqual(Object.keys(snapshot.keyedState), ['op-1']);
    assert.equal(snapshot.sourcePositions, undefined);
    const { runner: restored, sinks: restoredSinks } = h.runner(1, 0, { restoredState: snapshot.keyedState });
    restored.push({ user: 'bob', page: '/b' });
    assert.deepEqual(restoredSinks.get('op-2')?.records, ['bob: /=1,/b=2']);
  });

  it('names the failing operator and passes downstream errors through', () => {
    const h = harness((env) =>
      env
        .fromCollection([1])
        .map((x) => {
          if (x === 0) throw new Error('zero');
          return x;
        })
        .flatMap(function* (x) {
          if (x === 2) throw new Error('two');
          yield x;
        })
        .filter((x) => {
          if (x === 3) throw new Error('three');
          return true;
        })
        .collect(),
    );
    const { runner } = h.runner(0);
    const failsAt = (record: number, id: string, name: string, message: string) =>
      assert.throws(
        () => runner.push(record),
        (err: unknown) => err instanceof UserFunctionError && err.code === 'USER_FUNCTION_FAILED' && err.details['operatorId'] === id && err.details['operatorName'] === name && (err.cause as Error).message === message,
      );
    failsAt(0, 'op-1', 'Map', 'zero');
    failsAt(2, 'op-2', 'Flat Map', 'two');
    failsAt(3, 'op-3', 'Filter', 'three');
  });

  it('names the failing keyed operator: a reduce, a keyed process function and a sum selector', () => {
    const fails = (build: (keyed: KeyedStream<[string, number], string>) => DataStream<unknown>, name: string) => {
      const h = harness((env) => build(env.fromCollection<[string, number]>([['a', 1]]).keyBy((r) => r[0])).collect());
      const { runner } = h.runner(1);
      runner.push(['a', 1]);
      assert.throws(
        () => runner.push(['a', 0]),
        (err: unknown) => err instanceof UserFunctionError && err.details['operatorName'] === name && (err.cause as Error).message === 'zero',
      );
    };
    const zero = (r: [string, number]) => {
      if (r[1] === 0) throw new Error('zero');
      return r;
    };
    fails((k) => k.reduce((_acc, r) => zero(r)), 'Keyed Reduce');
    fails((k) => k.process((r, _ctx, out) => out.collect(zero(r))), 'KeyedProcess');
    fails((k) => k.sum((r) => zero(r)[1]), 'Keyed Aggregation');
  });

  it('rejects records of key groups the subtask does not own', () => {
    const h = harness((env) => env.fromCollection([0]).keyBy((n) => n).sum().setParallelism(2).collect().setParallelism(2), { parallelism: 2 });
    const { runner } = h.runner(1, 0);
    let foreign = 0;
    while (keyGroupFor(foreign, 128) <= keyGroupRangeFor(128, 2, 0).end) foreign++;
    assert.throws(() => runner.push(foreign), { code: 'KEY_GROUP_OUT_OF_RANGE' });
  });
});

describe('dataflow - partitioners and sinks', () => {
  it('selects channels for each partitioner', () => {
    const forward = createChannelSelector({ partitioner: 'forward', numberOfChannels: 3, subtaskIndex: 2 });
    assert.equal(forward('x'), 2);
    const rebalance = createChannelSelector({ partitioner: 'rebalance', numberOfChannels: 3, subtaskIndex: 1 });
    assert.deepEqual([1, 2, 3, 4, 5].map(rebalance), [1, 2, 0, 1, 2]);
    const broadcast = createChannelSelector({ partitioner: 'broadcast', numberOfChannels: 3, subtaskIndex: 0 });
    assert.equal(broadcast('x'), ALL_CHANNELS);
    const hash = createChannelSelector({ partitioner: 'hash', numberOfChannels: 3, subtaskIndex: 0, maxParallelism: 128, keySelector: (r) => (r as [string])[0] });
    for (let i = 0; i < 100; i++) {
      const channel = hash([`k${i}`]);
      const range = keyGroupRangeFor(128, 3, channel);
      const kg = keyGroupFor(`k${i}`, 128);
      assert.ok(kg >= range.start && kg <= range.end);
    }
    assert.throws(() => createChannelSelector({ partitioner: 'hash', numberOfChannels: 3, subtaskIndex: 0 }), { code: 'INVALID_ARGUMENT' });
  });

  it('formats print lines and text sink files as Flink does', () => {
    assert.equal(formatPrintLine(['a', 1], 0, 1), '["a",1]');
    assert.equal(formatPrintLine('hi', 1, 2), '2> hi');
    assert.equal(textSinkFile('/out', 0, 1), '/out');
    assert.equal(textSinkFile('/out', 1, 3), join('/out', '2'));
  });
});
