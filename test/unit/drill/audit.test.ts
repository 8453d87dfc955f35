/** The drill's task-level fencing audit over TaskExecutor log lines. */
import assert from 'node:assert/strict';
import { taskFenceAudit } from '../../../scripts/drill/audit.js';

const line = (time: number, msg: string, fields: Record<string, unknown> = {}) => JSON.stringify({ time, msg, node: 'te', actor: 'taskexecutor', ...fields });

describe('drill - task-level fencing audit', () => {
  it('passes sessions taken on in order, and counts the stale commands refused', () => {
    const audit = taskFenceAudit('te-1', [
      line(1, 'registered', { leaderSessionId: '9' }),
      line(2, 'registered', { leaderSessionId: '12' }),
      line(3, 'tasks adopted by the new leader', { leaderSessionId: '12' }),
      line(4, 'rejected a message of a stale leader session', { code: 'STALE_LEADER', received: '9', current: '12' }),
      'not json',
    ]);
    assert.deepEqual(audit, { problems: [], refused: 1 });
  });

  it('reports a TaskExecutor that took an older session on after a newer one', () => {
    const audit = taskFenceAudit('te-1', [line(1, 'registered', { leaderSessionId: '12' }), line(2, 'tasks adopted by the new leader', { leaderSessionId: '9' })]);
    assert.equal(audit.problems.length, 1);
    assert.match(audit.problems[0]!, /te-1 took leader session 9 on .* after newer session 12/);
  });
});
