import assert from 'node:assert/strict';
import type { OperatorDescription, StreamGraphDescription } from '../../../lib/dataflow/description.js';
import { StreamEnvironment } from '../../../lib/dataflow/environment.js';
import { InvalidJobGraphError } from '../../../lib/dataflow/errors.js';
import { buildJobGraph, expandSubtasks, requiredSlots, validateJobGraph, type JobGraph } from '../../../lib/dataflow/jobgraph.js';

/** The seed's example: source(p=2) -> map(p=2) -> keyBy -> aggregation(p=2) -> sink(p=1). */
function seedExample(configure: (sink: ReturnType<StreamEnvironment['fromSequence']>['print'] extends () => infer S ? S : never) => void = () => undefined): JobGraph {
  const env = new StreamEnvironment({ parallelism: 2 });
  const sink = env
    .fromSequence(1, 100)
    .map((n) => [n % 10, n] as [number, number])
    .keyBy((t) => t[0])
    .sum(1)
    .print()
    .setParallelism(1);
  configure(sink);
  return buildJobGraph(env.build().describe());
}

function op(id: string, overrides: Partial<OperatorDescription> = {}): OperatorDescription {
  return { id, name: id, kind: 'map', parallelism: 1, maxParallelism: 128, chaining: 'always', slotSharingGroup: 'default', keyed: false, ...overrides };
}

function rejects(graph: StreamGraphDescription, pattern: RegExp, operator?: string): void {
  assert.throws(
    () => validateJobGraph(graph),
    (err: unknown) => {
      assert.ok(err instanceof InvalidJobGraphError, String(err));
      assert.equal(err.code, 'INVALID_JOB_GRAPH');
      assert.match(err.message, pattern);
      if (operator !== undefined) assert.equal(err.operator, operator);
      return true;
    },
  );
}

describe('dataflow - job graph', () => {
  it('chains the seed example into 3 vertices, 5 subtasks and 2 slots', () => {
    const jobGraph = seedExample();
    assert.deepEqual(
      jobGraph.vertices.map((v) => [v.id, v.name, v.operatorIds, v.parallelism, v.slotSharingGroup]),
      [
        ['op-0', 'Source: sequence -> Map', ['op-0', 'op-1'], 2, 'default'],
        ['op-2', 'Keyed Aggregation', ['op-2'], 2, 'default'],
        ['op-3', 'Sink: print', ['op-3'], 1, 'default'],
      ],
    );
    assert.deepEqual(jobGraph.vertices[1]?.inputs, [{ source: 'op-0', target: 'op-2', partitioner: 'hash', sourceOperator: 'op-1', targetOperator: 'op-2' }]);
    assert.deepEqual(jobGraph.vertices[2]?.inputs.map((e) => [e.source, e.partitioner]), [['op-2', 'rebalance']]);
    assert.deepEqual(jobGraph.vertices[0]?.outputs.map((e) => [e.target, e.partitioner]), [['op-2', 'hash']]);
    assert.deepEqual(jobGraph.vertices[0]?.inputs, []);

    const subtasks = expandSubtasks(jobGraph);
    assert.equal(subtasks.length, 5);
    assert.deepEqual(
      subtasks.map((s) => s.name),
      ['Source: sequence -> Map (1/2)', 'Source: sequence -> Map (2/2)', 'Keyed Aggregation (1/2)', 'Keyed Aggregation (2/2)', 'Sink: print (1/1)'],
    );
    assert.deepEqual(subtasks[3], { vertexId: 'op-2', index: 1, parallelism: 2, name: 'Keyed Aggregation (2/2)' });
    assert.deepEqual(requiredSlots(jobGraph), { byGroup: { default: 2 }, total: 2 });
  });

  it('needs 3 slots when the sink is in its own slot sharing group', () => {
    const jobGraph = seedExample((sink) => sink.slotSharingGroup('b'));
    assert.equal(jobGraph.vertices.length, 3);
    assert.deepEqual(requiredSlots(jobGraph), { byGroup: { default: 2, b: 1 }, total: 3 });
  });

  it('is plain data', () => {
    const jobGraph = seedExample();
    assert.deepEqual(JSON.parse(JSON.stringify(jobGraph)), jobGraph);
  });

  it('splits chains at disableChaining and startNewChain', () => {
    const names = (build: (env: StreamEnvironment) => void) => {
      const env = new StreamEnvironment();
      build(env);
      return buildJobGraph(env.build().describe()).vertices.map((v) => v.name);
    };
    assert.deepEqual(
      names((env) => env.fromSequence(1, 2).map((x) => x).filter(() => true).print()),
      ['Source: sequence -> Map -> Filter -> Sink: print'],
    );
    // startNewChain: the map heads a new chain that the filter still joins.
    assert.deepEqual(
      names((env) => env.fromSequence(1, 2).map((x) => x).startNewChain().filter(() => true).print()),
      ['Source: sequence', 'Map -> Filter -> Sink: print'],
    );
    // disableChaining: the map chains to nothing on either side.
    assert.deepEqual(
      names((env) => env.fromSequence(1, 2).map((x) => x).disableChaining().filter(() => true).print()),
      ['Source: sequence', 'Map', 'Filter -> Sink: print'],
    );
  });

  it('breaks chains at rebalance, broadcast, keyBy, parallelism changes and slot sharing groups', () => {
    const vertices = (build: (env: StreamEnvironment) => void) => {
      const env = new StreamEnvironment({ parallelism: 2 });
      build(env);
      return buildJobGraph(env.build().describe()).vertices.map((v) => v.operatorIds.join('+'));
    };
    assert.deepEqual(vertices((env) => env.fromSequence(1, 2).rebalance().map((x) => x).print()), ['op-0', 'op-1+op-2']);
    assert.deepEqual(vertices((env) => env.fromSequence(1, 2).broadcast().map((x) => x).print()), ['op-0', 'op-1+op-2']);
    assert.deepEqual(vertices((env) => env.fromSequence(1, 2).keyBy((x) => x).map((x) => x).print()), ['op-0', 'op-1+op-2']);
    assert.deepEqual(vertices((env) => env.fromSequence(1, 2).map((x) => x).setParallelism(1).print()), ['op-0', 'op-1', 'op-2']);
    assert.deepEqual(vertices((env) => env.fromSequence(1, 2).map((x) => x).slotSharingGroup('x').print()), ['op-0', 'op-1+op-2']);
  });

  it('ends a chain where the stream fans out (linear chains)', () => {
    const env = new StreamEnvironment();
    const src = env.fromSequence(1, 2);
    src.map((x) => x).print();
    src.filter(() => true).print();
    const jobGraph = buildJobGraph(env.build().describe());
    assert.deepEqual(
      jobGraph.vertices.map((v) => v.operatorIds.join('+')),
      ['op-0', 'op-1+op-2', 'op-3+op-4'],
    );
    assert.deepEqual(jobGraph.vertices[0]?.outputs.map((e) => [e.target, e.partitioner]), [
      ['op-1', 'forward'],
      ['op-3', 'forward'],
    ]);
    assert.deepEqual(requiredSlots(jobGraph).total, 1);
  });
});

describe('dataflow - job graph validation', () => {
  const src = op('src', { kind: 'source', name: 'Source' });
  const sink = op('sink', { kind: 'sink', name: 'Sink' });

  it('accepts a minimal graph', () => {
    validateJobGraph({ operators: [src, sink], edges: [{ source: 'src', target: 'sink', partitioner: 'forward' }] });
  });

  it('rejects a graph without sources or sinks', () => {
    rejects({ operators: [], edges: [] }, /no source/);
    rejects({ operators: [src], edges: [] }, /output goes nowhere/, "'src' (Source)");
    rejects({ operators: [op('a'), op('b')], edges: [{ source: 'a', target: 'b', partitioner: 'forward' }, { source: 'b', target: 'a', partitioner: 'forward' }] }, /no source/);
    rejects({ operators: [src, op('m')], edges: [{ source: 'src', target: 'm', partitioner: 'forward' }, { source: 'm', target: 'src', partitioner: 'forward' }] }, /source cannot have inputs/);
  });

  it('rejects dangling operators', () => {
    rejects({ operators: [src, op('lonely'), sink], edges: [{ source: 'src', target: 'sink', partitioner: 'forward' }] }, /dangling operator: it has no input/, "'lonely' (lonely)");
    rejects(
      { operators: [src, op('deadEnd'), sink], edges: [{ source: 'src', target: 'sink', partitioner: 'forward' }, { source: 'src', target: 'deadEnd', partitioner: 'forward' }] },
      /dangling operator: its output goes nowhere/,
      "'deadEnd' (deadEnd)",
    );
    rejects({ operators: [src, sink], edges: [{ source: 'src', target: 'nope', partitioner: 'forward' }] }, /unknown operator/);
  });

  it('rejects parallelism out of bounds', () => {
    rejects({ operators: [src, op('sink', { kind: 'sink', parallelism: 0 })], edges: [{ source: 'src', target: 'sink', partitioner: 'rebalance' }] }, /parallelism 0 is below 1/, "'sink' (sink)");
    rejects({ operators: [src, op('sink', { kind: 'sink', parallelism: 9, maxParallelism: 8 })], edges: [{ source: 'src', target: 'sink', partitioner: 'rebalance' }] }, /parallelism 9 exceeds its max parallelism 8/);
    rejects({ operators: [op('src', { kind: 'source', maxParallelism: 0 }), sink], edges: [] }, /max parallelism 0 is outside 1..32768/);
    rejects({ operators: [op('src', { kind: 'source', maxParallelism: 32769 }), sink], edges: [] }, /max parallelism 32769 is outside/);
    rejects({ operators: [src, op('sink', { kind: 'sink', parallelism: 2 })], edges: [{ source: 'src', target: 'sink', partitioner: 'forward' }] }, /forward input .* changes parallelism 1 -> 2/);
  });

  it('rejects cycles, naming them', () => {
    rejects(
      {
        operators: [src, op('a'), op('b'), sink],
        edges: [
          { source: 'src', target: 'a', partitioner: 'forward' },
          { source: 'a', target: 'b', partitioner: 'forward' },
          { source: 'b', target: 'a', partitioner: 'forward' },
          { source: 'b', target: 'sink', partitioner: 'forward' },
        ],
      },
      /cycle 'a' -> 'b' -> 'a'/,
      "'a' (a)",
    );
  });

  it('rejects a keyed operator without keyBy input', () => {
    rejects(
      { operators: [src, op('agg', { keyed: true, kind: 'sum' }), sink], edges: [{ source: 'src', target: 'agg', partitioner: 'forward' }, { source: 'agg', target: 'sink', partitioner: 'forward' }] },
      /keyed operator reads 'src' \(Source\) through 'forward', not keyBy/,
      "'agg' (agg)",
    );
    rejects({ operators: [src, op('agg', { keyed: true, kind: 'sum' }), sink], edges: [{ source: 'src', target: 'sink', partitioner: 'forward' }, { source: 'agg', target: 'sink', partitioner: 'forward' }] }, /no input/);
  });

  it('rejects duplicate ids and unknown partitioners', () => {
    rejects({ operators: [src, src, sink], edges: [] }, /duplicate operator id 'src'/);
    rejects({ operators: [src, sink], edges: [{ source: 'src', target: 'sink', partitioner: 'random' as 'forward' }] }, /unknown partitioner 'random'/);
  });

  it('validates before chaining', () => {
    assert.throws(() => buildJobGraph({ operators: [src], edges: [] }), { code: 'INVALID_JOB_GRAPH' });
  });
});
