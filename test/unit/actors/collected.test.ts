import assert from 'node:assert/strict';
import { dropHeldCollected, holdCollected, releaseCollected } from '../../../actors/jobmaster/collected.js';
import type { Context } from '../../../actors/jobmaster/context.js';

/** The part of a JobMaster's context that collect() uses. */
function contextWith(maxCollectedRecords: number): Context {
  return { maxCollectedRecords, collected: [], held: [], heldCount: 0 } as unknown as Context;
}

describe('jobmaster - collect() exactly once', () => {
  it('collected - a batch is released only by a checkpoint after its barrier, in arrival order', () => {
    const c = contextWith(100);
    holdCollected(c, 0, ['a', 'b']); // before any barrier
    holdCollected(c, 3, ['c']); // after barrier 3
    holdCollected(c, 0, ['d']); // another subtask, not at barrier 3 yet
    releaseCollected(c, 3);
    assert.deepEqual(c.collected, ['a', 'b', 'd'], 'checkpoint 3 covers what came before its barrier');
    releaseCollected(c, 3);
    assert.deepEqual(c.collected, ['a', 'b', 'd'], 'nothing twice');
    holdCollected(c, 4, ['e']);
    releaseCollected(c, 4);
    assert.deepEqual(c.collected, ['a', 'b', 'd', 'c']);
    releaseCollected(c); // the job finished
    assert.deepEqual(c.collected, ['a', 'b', 'd', 'c', 'e']);
    assert.equal(c.heldCount, 0);
  });

  it('collected - a restart drops what no checkpoint covered; the bound counts held and released records', () => {
    const c = contextWith(5);
    holdCollected(c, 0, ['a', 'b']);
    releaseCollected(c, 1);
    holdCollected(c, 1, ['c', 'd']);
    dropHeldCollected(c);
    assert.deepEqual([c.collected, c.held, c.heldCount], [['a', 'b'], [], 0]);
    holdCollected(c, 1, ['c', 'd', 'e', 'f']);
    holdCollected(c, 1, ['g']);
    releaseCollected(c);
    assert.deepEqual(c.collected, ['a', 'b', 'c', 'd', 'e']);
    holdCollected(c, -1, ['bad epoch']);
    holdCollected(c, 1.5, ['bad epoch']);
    assert.equal(c.heldCount, 0, 'batches with a malformed epoch are ignored');
  });
});
