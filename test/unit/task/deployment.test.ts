import assert from 'node:assert/strict';
import { buildJobGraph } from '../../../lib/dataflow/jobgraph.js';
import { buildStreamGraph } from '../../../lib/dataflow/jobmodule.js';
import { buildDeploymentDescriptors } from '../../../lib/task/deployment.js';
import { HeldMessages } from '../../../lib/task/held-messages.js';

describe('task - deployment descriptors', () => {
  const graph = buildJobGraph(
    buildStreamGraph((env) => {
      env.setParallelism(2);
      env
        .fromSequence(1, 10)
        .map((x) => x)
        .keyBy((x) => x % 3)
        .sum()
        .collect()
        .setParallelism(1);
    }).describe(),
  );
  const te = (i: number) => ({ taskExecutorId: `te-${i}`, dataAddress: `127.0.0.1:${1000 + i}` });
  const tdds = buildDeploymentDescriptors(graph, {
    jobId: 'j',
    jobName: 'job',
    attempt: 2,
    jobModulePath: '/m.js',
    jobArgs: { a: 1 },
    defaultParallelism: 2,
    placement: (_v, i) => te(i),
  });

  it('task - one descriptor per subtask, with its peers on every edge', () => {
    assert.equal(tdds.length, 5);
    const [src0, , keyed0, , sink] = tdds as [typeof tdds[0], typeof tdds[0], typeof tdds[0], typeof tdds[0], typeof tdds[0]];
    assert.equal(src0.executionId, `j/2/${src0.vertexId}/0`);
    assert.deepEqual(src0.inputs, []);
    assert.equal(src0.outputs[0]?.partitioner, 'hash');
    assert.deepEqual(src0.outputs[0]?.consumers.map((c) => c.location.taskExecutorId), ['te-0', 'te-1']);
    assert.deepEqual(keyed0.inputs[0]?.producers.map((p) => p.subtaskIndex), [0, 1]);
    assert.equal(sink.parallelism, 1);
    assert.deepEqual(sink.inputs[0]?.producers.map((p) => p.subtaskIndex), [0, 1]);
    assert.deepEqual(sink.outputs, []);
    for (const t of tdds) {
      assert.equal(t.attempt, 2);
      assert.deepEqual(t.jobArgs, { a: 1 });
    }
  });

  it('task - forward edges are pointwise: subtask i to subtask i only', () => {
    const fwd = buildJobGraph(
      buildStreamGraph((env) => {
        env.setParallelism(2);
        env.fromSequence(1, 10).map((x) => x).disableChaining().collect();
      }).describe(),
    );
    const d = buildDeploymentDescriptors(fwd, { jobId: 'j', jobName: 'f', attempt: 0, jobModulePath: '', jobArgs: {}, defaultParallelism: 2, placement: (_v, i) => te(i) });
    const src1 = d.find((t) => t.subtaskIndex === 1 && t.inputs.length === 0);
    assert.equal(src1?.outputs[0]?.partitioner, 'forward');
    assert.deepEqual(src1?.outputs[0]?.consumers.map((c) => c.subtaskIndex), [1]);
  });
});

describe('task - held messages', () => {
  it('task - messages are held in order, bounded, and dropped with their job or older attempts', () => {
    const held = new HeldMessages(2);
    assert.ok(held.hold('j/0/a/0', 'j', 0, { t: 'credit', ch: 'x', n: 1 }));
    assert.ok(held.hold('j/0/a/0', 'j', 0, { t: 'credit', ch: 'x', n: 2 }));
    assert.equal(held.hold('j/0/a/0', 'j', 0, { t: 'credit', ch: 'x', n: 3 }), false);
    assert.deepEqual(held.take('j/0/a/0').map((m) => (m.t === 'credit' ? m.n : 0)), [1, 2]);
    assert.deepEqual(held.take('j/0/a/0'), []);
    held.hold('j/0/a/0', 'j', 0, { t: 'eop', ch: 'x' });
    held.hold('j/1/a/0', 'j', 1, { t: 'eop', ch: 'y' });
    held.dropJob('j', 1);
    assert.equal(held.size, 1);
    held.dropJob('j');
    assert.equal(held.size, 0);
  });
});
