import assert from 'node:assert/strict';
import { ArrayOutput } from '../../../lib/dataflow/collector.js';
import { buildJobGraph, type JobVertex } from '../../../lib/dataflow/jobgraph.js';
import { buildStreamGraph, type JobFunction } from '../../../lib/dataflow/jobmodule.js';
import { ChainRunner } from '../../../lib/dataflow/operators.js';
import { ALL_CHANNELS, createChannelSelector } from '../../../lib/dataflow/partitioners.js';
import type { KeyGroupSnapshot } from '../../../lib/dataflow/state.js';
import type { StreamGraph } from '../../../lib/dataflow/streamgraph.js';

const TEXT = [
  'to be or not to be',
  'that is the question',
  'whether tis nobler in the mind to suffer',
  'the slings and arrows of outrageous fortune',
  'or to take arms against a sea of troubles',
  'and by opposing end them',
];

function expectedCounts(lines: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const word of lines.flatMap((l) => l.split(' '))) counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
}

/** The job module under test; the keyed parallelism is a parameter to test rescaling. */
function wordCount(lines: readonly string[], keyedParallelism: number): JobFunction {
  return (env) => {
    env.setParallelism(2);
    env
      .fromCollection(lines)
      .setParallelism(2)
      .flatMap((line) => line.split(' '))
      .keyBy((word) => word)
      .sum(() => 1)
      .setParallelism(keyedParallelism)
      .collect()
      .setParallelism(1);
  };
}

/** A hand-run of the job's chains: source chains, then hash-partitioned keyed chains. */
class HandRun {
  readonly graph: StreamGraph;
  readonly source: JobVertex;
  readonly keyed: JobVertex;
  readonly keyedRunners: ChainRunner[];
  readonly keyedOutputs: ArrayOutput[];
  /** Words each keyed subtask received, to check the partitioning. */
  readonly received: string[][];

  constructor(job: JobFunction, restored?: Record<string, readonly KeyGroupSnapshot[]>) {
    this.graph = buildStreamGraph(job);
    const vertices = buildJobGraph(this.graph.describe()).vertices;
    assert.deepEqual(
      vertices.map((v) => v.name),
      ['Source: collection -> Flat Map', 'Keyed Aggregation', 'Sink: collect'],
    );
    [this.source, this.keyed] = vertices as [JobVertex, JobVertex];
    this.keyedOutputs = Array.from({ length: this.keyed.parallelism }, () => new ArrayOutput());
    this.received = Array.from({ length: this.keyed.parallelism }, () => []);
    this.keyedRunners = this.keyedOutputs.map((output, subtaskIndex) =>
      ChainRunner.create(this.graph, this.keyed.operatorIds, {
        subtaskIndex,
        output,
        sinkWriter: () => assert.fail('no sink in the keyed chain'),
        ...(restored === undefined ? {} : { restoredState: restored }),
      }),
    );
  }

  /** Runs both source subtasks to the end, partitioning their words by key group. */
  runSources(): void {
    const edge = this.source.outputs[0];
    assert.ok(edge !== undefined && edge.partitioner === 'hash');
    const keyedOp = this.graph.operator(edge.targetOperator);
    const streamEdge = this.graph.edges.find((e) => e.source === edge.sourceOperator && e.target === edge.targetOperator);
    for (let subtaskIndex = 0; subtaskIndex < this.source.parallelism; subtaskIndex++) {
      const select = createChannelSelector({
        partitioner: edge.partitioner,
        numberOfChannels: this.keyed.parallelism,
        subtaskIndex,
        maxParallelism: keyedOp.description.maxParallelism,
        ...(streamEdge?.keySelector === undefined ? {} : { keySelector: streamEdge.keySelector }),
      });
      const output = {
        emit: (word: unknown) => {
          const channel = select(word);
          assert.notEqual(channel, ALL_CHANNELS);
          (this.received[channel] as string[]).push(word as string);
          (this.keyedRunners[channel] as ChainRunner).push(word);
        },
      };
      const runner = ChainRunner.create(this.graph, this.source.operatorIds, { subtaskIndex, output, sinkWriter: () => assert.fail('no sink') });
      while (runner.pollSource(3));
      runner.finish();
    }
  }

  /** The last count emitted per word: the final result of a running sum. */
  finalCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const output of this.keyedOutputs) for (const [word, n] of output.records as [string, number][]) counts.set(word, n);
    return counts;
  }
}

describe('dataflow - word count by hand', () => {
  it('counts words exactly over 2 source and 2 keyed subtasks', () => {
    const run = new HandRun(wordCount(TEXT, 2));
    run.runSources();
    assert.deepEqual(run.finalCounts(), expectedCounts(TEXT));
    assert.equal(run.finalCounts().get('to'), 4);
    assert.equal(run.finalCounts().get('the'), 3);
    // Every word went to exactly one keyed subtask, and both subtasks got work.
    const [a, b] = run.received.map((words) => new Set(words)) as [Set<string>, Set<string>];
    assert.ok(a.size > 0 && b.size > 0);
    for (const word of a) assert.ok(!b.has(word), `${word} on both subtasks`);
    // Each running count increases by one per occurrence.
    for (const output of run.keyedOutputs) {
      const last = new Map<string, number>();
      for (const [word, n] of output.records as [string, number][]) {
        assert.equal(n, (last.get(word) ?? 0) + 1);
        last.set(word, n);
      }
    }
  });

  it('keeps exact counts across a checkpoint and a rescale from 2 to 3 keyed subtasks', () => {
    const half = TEXT.slice(0, 3);
    const rest = TEXT.slice(3);
    const before = new HandRun(wordCount(half, 2));
    before.runSources();
    const keyedId = before.keyed.id;
    // The checkpoint: the snapshots of both old keyed subtasks, handed to every new one.
    const snapshots = before.keyedRunners.flatMap((r) => r.snapshotState().keyedState[keyedId] ?? []);

    const after = new HandRun(wordCount(rest, 3), { [keyedId]: snapshots });
    assert.equal(after.keyed.id, keyedId, 'the same module yields the same operator ids');
    after.runSources();
    const counts = after.finalCounts();
    const expected = expectedCounts(TEXT);
    for (const word of expectedCounts(rest).keys()) assert.equal(counts.get(word), expected.get(word), word);
    assert.equal(counts.get('to'), 4);
    assert.equal(counts.get('the'), 3);
    assert.equal(counts.get('or'), 2);
    // All of the old state arrived: the new subtasks together hold every word of the whole text.
    const keys = after.keyedRunners.reduce((n, r) => n + (r.stateBackend(keyedId)?.numKeys('sum') ?? 0), 0);
    assert.equal(keys, expected.size);
  });
});
