import assert from 'node:assert/strict';
import { buildJobGraph } from '../../../lib/dataflow/jobgraph.js';
import { buildStreamGraph } from '../../../lib/dataflow/jobmodule.js';
import { ExecutionGraph } from '../../../actors/jobmaster/execution-graph.js';
import seedExample from '../../../scripts/jobs/seed-example.js';

function seedGraph(args: Record<string, unknown> = {}) {
  return buildJobGraph(buildStreamGraph(seedExample, { args }).describe());
}

function offerAll(graph: ExecutionGraph<string>): void {
  let n = 0;
  for (const { group, count } of graph.requirements()) {
    for (let i = 0; i < count; i++) {
      assert.ok(graph.offer({ allocationId: `a${n}`, slotIndex: n, group, taskExecutorId: `te${n % 2}`, taskExecutor: `ref${n % 2}`, dataAddress: `d${n % 2}` }));
      n++;
    }
  }
}

describe('jobmaster - execution graph', () => {
  it('runs the seed example as five subtasks in two shared slots', () => {
    const graph = new ExecutionGraph<string>('job', seedGraph(), 0);
    assert.equal(graph.subtasks.length, 5);
    assert.equal(graph.requiredSlots(), 2);
    assert.equal(graph.hasAllSlots(), false);
    offerAll(graph);
    assert.ok(graph.hasAllSlots());
    graph.schedule();
    const bySlot = new Map<string, string[]>();
    for (const s of graph.subtasks) bySlot.set(s.slot!.allocationId, [...(bySlot.get(s.slot!.allocationId) ?? []), `${s.vertexId}#${s.index}`]);
    assert.equal(bySlot.size, 2);
    // Subtask 0 of every vertex shares slot a0: one slot holds a whole pipeline.
    assert.equal(bySlot.get('a0')!.length, 3);
    assert.equal(bySlot.get('a1')!.length, 2);
  });

  it('needs a third slot when the sink has its own slot sharing group', () => {
    const graph = new ExecutionGraph<string>('job', seedGraph({ sinkGroup: 'sink' }), 0);
    assert.equal(graph.requiredSlots(), 3);
    assert.deepEqual(graph.requirements().sort((a, b) => a.group.localeCompare(b.group)), [
      { group: 'default', count: 2 },
      { group: 'sink', count: 1 },
    ]);
  });

  it('refuses slots beyond what a group needs', () => {
    const graph = new ExecutionGraph<string>('job', seedGraph(), 0);
    offerAll(graph);
    assert.equal(graph.offer({ allocationId: 'extra', slotIndex: 9, group: 'default', taskExecutorId: 'x', taskExecutor: 'x', dataAddress: 'x' }), false);
  });

  it('only makes the transitions a subtask can make', () => {
    const graph = new ExecutionGraph<string>('job', seedGraph(), 0);
    offerAll(graph);
    graph.schedule();
    const first = graph.subtasks[0]!;
    assert.equal(graph.update(first.executionId, 'finished'), false, 'scheduled cannot jump to finished');
    assert.ok(graph.update(first.executionId, 'deploying'));
    assert.ok(graph.update(first.executionId, 'running'));
    assert.ok(graph.update(first.executionId, 'finished'));
    assert.equal(graph.update(first.executionId, 'running'), false, 'finished is final');
    assert.equal(graph.update('no-such-execution', 'running'), false);
  });

  it('finds the subtasks of a lost TaskExecutor', () => {
    const graph = new ExecutionGraph<string>('job', seedGraph(), 0);
    offerAll(graph);
    graph.schedule();
    assert.equal(graph.onTaskExecutor('te0').length + graph.onTaskExecutor('te1').length, 5);
  });
});
