import assert from 'node:assert/strict';
import { StreamEnvironment, type SingleOutputStream } from '../../../lib/dataflow/environment.js';
import { InvalidJobGraphError } from '../../../lib/dataflow/errors.js';
import { buildStreamGraph, importJobFunction, type JobFunction } from '../../../lib/dataflow/jobmodule.js';

const wordCount: JobFunction = (env) => {
  env.setParallelism(2);
  env
    .fromCollection(['a b', 'b c'])
    .flatMap((line) => line.split(' '))
    .keyBy((word) => word)
    .sum(() => 1)
    .print()
    .setParallelism(1);
};

describe('dataflow - stream environment', () => {
  it('assigns deterministic ids in construction order, or the uid', () => {
    const build = () => {
      const env = new StreamEnvironment();
      const s = env.fromSequence(1, 10).uid('numbers');
      s.map((x) => x * 2).filter((x) => x > 2).collect();
      return env.build().describe();
    };
    const a = build();
    assert.deepEqual(a, build());
    assert.deepEqual(
      a.operators.map((o) => o.id),
      ['numbers', 'op-1', 'op-2', 'op-3'],
    );
    assert.deepEqual(
      a.operators.map((o) => o.name),
      ['Source: sequence', 'Map', 'Filter', 'Sink: collect'],
    );
  });

  it('describes operators and edges without functions', () => {
    const graph = buildStreamGraph(wordCount);
    const d = graph.describe();
    assert.deepEqual(JSON.parse(JSON.stringify(d)), d, 'description is plain data');
    assert.deepEqual(
      d.operators.map((o) => [o.id, o.kind, o.parallelism, o.maxParallelism, o.chaining, o.slotSharingGroup, o.keyed]),
      [
        ['op-0', 'source', 1, 128, 'always', 'default', false],
        ['op-1', 'flatMap', 2, 128, 'always', 'default', false],
        ['op-2', 'sum', 2, 128, 'always', 'default', true],
        ['op-3', 'sink', 1, 128, 'always', 'default', false],
      ],
    );
    assert.deepEqual(d.operators[0]?.source, { kind: 'collection', size: 2 });
    assert.deepEqual(d.operators[3]?.sink, { kind: 'print' });
    assert.deepEqual(d.edges, [
      { source: 'op-0', target: 'op-1', partitioner: 'rebalance' },
      { source: 'op-1', target: 'op-2', partitioner: 'hash' },
      { source: 'op-2', target: 'op-3', partitioner: 'rebalance' },
    ]);
    // Functions stay in the graph for the tasks.
    assert.equal(graph.operator('op-2').logic.kind, 'sum');
    assert.equal(typeof graph.operator('op-2').keySelector, 'function');
    assert.equal(typeof graph.edges[1]?.keySelector, 'function');
  });

  it('picks forward for equal parallelism and rebalance otherwise, honouring explicit partitioners', () => {
    const env = new StreamEnvironment({ parallelism: 3 });
    const src = env.fromSequence(0, 9);
    src.map((x) => x).rebalance().map((x) => x).broadcast().filter(() => true).forward().print();
    src.map((x) => x).setParallelism(2).writeAsText('/tmp/out');
    const d = env.build().describe();
    assert.deepEqual(
      d.edges.map((e) => `${e.source}->${e.target}:${e.partitioner}`),
      ['op-0->op-1:forward', 'op-1->op-2:rebalance', 'op-2->op-3:broadcast', 'op-3->op-4:forward', 'op-0->op-5:rebalance', 'op-5->op-6:rebalance'],
    );
    assert.deepEqual(d.operators[6]?.sink, { kind: 'text', path: '/tmp/out' });
  });

  it('applies operator settings and resolves defaults at build time', () => {
    const env = new StreamEnvironment();
    const mapped = env
      .fromGenerator((i) => i, 10)
      .map((x) => x + 1)
      .name('plus one')
      .setParallelism(4)
      .setMaxParallelism(16)
      .disableChaining()
      .slotSharingGroup('heavy');
    mapped.filter((x) => x > 0).startNewChain().print();
    env.setParallelism(2).setMaxParallelism(256);
    const ops = env.build().describe().operators;
    assert.deepEqual(ops[0], { id: 'op-0', name: 'Source: generator', kind: 'source', parallelism: 2, maxParallelism: 256, chaining: 'always', slotSharingGroup: 'default', keyed: false, source: { kind: 'generator', count: 10 } });
    assert.deepEqual(ops[1], { id: 'op-1', name: 'plus one', kind: 'map', parallelism: 4, maxParallelism: 16, chaining: 'never', slotSharingGroup: 'heavy', keyed: false });
    // The slot sharing group is inherited from the inputs when not set.
    assert.equal(ops[2]?.slotSharingGroup, 'heavy');
    assert.equal(ops[2]?.chaining, 'head');
    assert.equal(ops[3]?.slotSharingGroup, 'heavy');
  });

  it('rejects bad settings, naming the operator', () => {
    const env = new StreamEnvironment();
    const s = env.fromSequence(1, 2);
    assert.throws(() => s.setParallelism(0), (err: unknown) => err instanceof InvalidJobGraphError && err.code === 'INVALID_JOB_GRAPH' && /'op-0' \(Source: sequence\).*parallelism/.test(err.message));
    assert.throws(() => env.setParallelism(1.5), { code: 'INVALID_JOB_GRAPH' });
    assert.throws(() => env.fromSequence(0, Number.MAX_VALUE), { code: 'INVALID_JOB_GRAPH' });
    assert.throws(() => s.uid(''), { code: 'INVALID_JOB_GRAPH' });
  });

  it('rejects duplicate uids and invalid graphs at build', () => {
    const env = new StreamEnvironment();
    env.fromSequence(1, 2).uid('x').map((v) => v).uid('x').print();
    assert.throws(() => env.build(), (err: unknown) => err instanceof InvalidJobGraphError && /id 'x' is already used/.test(err.message));

    const noSink = new StreamEnvironment();
    noSink.fromSequence(1, 2).map((v) => v);
    assert.throws(() => noSink.build(), (err: unknown) => err instanceof InvalidJobGraphError && err.operator === "'op-1' (Map)" && /goes nowhere/.test(err.message));

    const forwardMismatch = new StreamEnvironment();
    forwardMismatch.fromSequence(1, 2).forward().map((v) => v).setParallelism(3).print();
    assert.throws(() => forwardMismatch.build(), /forward input from 'op-0'.*changes parallelism 1 -> 3/);

    const tooParallel = new StreamEnvironment({ maxParallelism: 4 });
    tooParallel.fromSequence(1, 2).setParallelism(5).print();
    assert.throws(() => tooParallel.build(), /parallelism 5 exceeds its max parallelism 4/);
  });

  it('loads a job module from a URL and rejects modules without a default function', async () => {
    const source = `export default (env) => { env.fromSequence(1, 3).map((x) => x * 2).collect(); };`;
    const job = await importJobFunction(`data:text/javascript,${encodeURIComponent(source)}`);
    assert.deepEqual(buildStreamGraph(job).describe().operators.map((o) => o.id), ['op-0', 'op-1', 'op-2']);
    await assert.rejects(importJobFunction(`data:text/javascript,${encodeURIComponent('export const x = 1;')}`), { code: 'INVALID_JOB_MODULE' });
    await assert.rejects(importJobFunction('file:///nonexistent/job.js'), { code: 'INVALID_JOB_MODULE' });
  });

  it('types keyed aggregations', () => {
    const env = new StreamEnvironment();
    const pairs = env.fromCollection<[string, number]>([['a', 1]]);
    const keyed = pairs.keyBy((p) => p[0]);
    const byIndex = keyed.sum(1); // SingleOutputStream<[string, number]>
    const bySelector = keyed.sum((p) => p[1]); // SingleOutputStream<[string, number]>
    const numbers = env.fromSequence(1, 3).keyBy((n) => n % 2).sum(); // SingleOutputStream<number>
    const reduced = keyed.reduce((a, b) => [a[0], a[1] + b[1]]);
    const processed = keyed.process<string>((value, ctx, out) => {
      const seen = ctx.getValueState<number>('seen');
      seen.update((seen.value() ?? 0) + value[1]);
      out.collect(`${ctx.currentKey}`);
    });
    // Compile-time checks of the overloads.
    const typed: [SingleOutputStream<[string, number]>, SingleOutputStream<[string, number]>, SingleOutputStream<number>] = [byIndex, bySelector, numbers];
    // @ts-expect-error sum() without a field needs a stream of numbers (never called)
    void (() => keyed.sum());
    for (const s of [...typed, reduced, processed]) s.collect();
    const d = env.build().describe();
    assert.deepEqual(
      d.operators.filter((o) => o.keyed).map((o) => o.kind),
      ['sum', 'sum', 'sum', 'reduce', 'process'],
    );
    assert.ok(d.edges.filter((e) => e.partitioner === 'hash').length === 5);
  });
});
