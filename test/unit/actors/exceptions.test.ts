import assert from 'node:assert/strict';
import { buildJobGraph } from '../../../lib/dataflow/jobgraph.js';
import { buildStreamGraph } from '../../../lib/dataflow/jobmodule.js';
import { ExecutionGraph } from '../../../actors/jobmaster/execution-graph.js';
import { MAX_EXCEPTIONS, recordFailure, type JobException } from '../../../actors/jobmaster/exceptions.js';
import seedExample from '../../../scripts/jobs/seed-example.js';

function runningGraph(attempt: number): ExecutionGraph<string> {
  const graph = new ExecutionGraph<string>('job', buildJobGraph(buildStreamGraph(seedExample, { args: {} }).describe()), attempt);
  let n = 0;
  for (const { group, count } of graph.requirements()) {
    for (let i = 0; i < count; i++, n++) graph.offer({ allocationId: `a${n}`, slotIndex: n, group, taskExecutorId: `te${n}`, taskExecutor: `ref${n}`, dataAddress: `d${n}` });
  }
  graph.schedule();
  for (const s of graph.subtasks) graph.transition(s, 'deploying');
  return graph;
}

describe('jobmaster - exception history', () => {
  it('names the failed subtask, its TaskExecutor and its root cause with the stack it carries', () => {
    const graph = runningGraph(0);
    const failed = graph.subtasks[1]!;
    const error = { code: 'REMOTE_FAILURE', message: 'boom', details: { stack: 'Error: boom\n    at map (job.js:3:9)' } };
    graph.transition(failed, 'failed', error);
    // A peer that lost its data connection fails too: a concurrent failure, not the root cause.
    graph.transition(graph.subtasks[0]!, 'failed', { code: 'DATA_CONNECTION_LOST', message: 'peer gone' });
    const history: JobException[] = [];
    recordFailure(history, graph, error, 5000, true);
    const vertex = graph.jobGraph.vertices.find((v) => v.id === failed.vertexId)!;
    assert.deepEqual(history, [{
      at: 5000, attempt: 0,
      task: { vertexId: failed.vertexId, vertexName: vertex.name, index: failed.index, executionId: failed.executionId },
      taskExecutorId: failed.slot!.taskExecutorId,
      rootCause: { code: 'REMOTE_FAILURE', message: 'boom', stack: 'Error: boom\n    at map (job.js:3:9)' },
      concurrentFailures: 1,
      restarting: true,
    }]);
    // The end of the same attempt adds nothing: one entry per attempt.
    recordFailure(history, graph, error, 6000, false);
    assert.equal(history.length, 1);
  });

  it('records a job-level failure without a task, and keeps only the newest entries', () => {
    const history: JobException[] = [];
    for (let attempt = 0; attempt < MAX_EXCEPTIONS + 5; attempt++) {
      recordFailure(history, runningGraph(attempt), { code: 'SLOT_REQUEST_TIMEOUT', message: 'no slots' }, attempt, false);
    }
    assert.equal(history.length, MAX_EXCEPTIONS);
    assert.equal(history[0]!.attempt, 5);
    assert.deepEqual([history[0]!.task, history[0]!.taskExecutorId, history[0]!.rootCause.stack], [null, null, null]);
  });
});
