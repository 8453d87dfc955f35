/** The simulator's scheduler and network: ordering, paused and crashed nodes, cuts. */
import assert from 'node:assert/strict';
import { Scheduler, SimNode } from '../../lib/sim/scheduler.js';
import { Rng } from '../../lib/sim/rng.js';

async function runAll(scheduler: Scheduler): Promise<void> {
  while (await scheduler.step());
}

describe('simulator scheduler', () => {
  it('runs events by simulated time, then in the order they were scheduled', async () => {
    const scheduler = new Scheduler();
    const ran: string[] = [];
    scheduler.schedule(20, 'b', () => ran.push('b'));
    scheduler.schedule(10, 'a', () => ran.push('a'));
    scheduler.schedule(20, 'c', () => ran.push('c'));
    await runAll(scheduler);
    assert.deepEqual(ran, ['a', 'b', 'c']);
    assert.deepEqual(scheduler.trace, ['10 a', '20 b', '20 c']);
  });

  it('holds a paused node’s timers until it resumes, then runs them in order', async () => {
    const scheduler = new Scheduler();
    const node = new SimNode('n', scheduler);
    const ran: Array<[string, number]> = [];
    node.clock.setTimeout(() => ran.push(['t1', scheduler.elapsed]), 100);
    node.clock.setTimeout(() => ran.push(['t2', scheduler.elapsed]), 200);
    scheduler.at(50, 'pause', () => node.pause());
    scheduler.at(500, 'resume', () => node.resume());
    await runAll(scheduler);
    assert.deepEqual(ran, [
      ['t1', 500],
      ['t2', 500],
    ]);
  });

  it('runs what a paused node held before anything else due when it resumes', async () => {
    const scheduler = new Scheduler();
    const node = new SimNode('n', scheduler);
    const ran: string[] = [];
    // Faults are scheduled first: the resume sorts before whatever else falls due at its instant.
    scheduler.at(500, 'resume', () => node.resume());
    scheduler.at(50, 'pause', () => node.pause());
    node.clock.setTimeout(() => ran.push('held'), 100);
    node.clock.setTimeout(() => ran.push('due at the resume'), 500);
    await runAll(scheduler);
    assert.deepEqual(ran, ['held', 'due at the resume']);
  });

  it('drops a crashed node’s timers: a restarted node is a new incarnation', async () => {
    const scheduler = new Scheduler();
    const node = new SimNode('n', scheduler);
    const ran: string[] = [];
    node.clock.setTimeout(() => ran.push('before crash'), 100);
    scheduler.at(50, 'crash', () => node.crash());
    scheduler.at(60, 'restart', () => {
      node.restart();
      node.clock.setTimeout(() => ran.push('after restart'), 100);
    });
    await runAll(scheduler);
    assert.deepEqual(ran, ['after restart']);
  });

  it('a cleared timer never fires', async () => {
    const scheduler = new Scheduler();
    const node = new SimNode('n', scheduler);
    let fired = false;
    const handle = node.clock.setTimeout(() => (fired = true), 10);
    node.clock.clearTimeout(handle);
    await runAll(scheduler);
    assert.equal(fired, false);
  });

  it('the PRNG gives the same sequence for the same seed and another for another', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const seq = (r: Rng) => Array.from({ length: 8 }, () => r.int(0, 1000));
    const first = seq(a);
    assert.deepEqual(seq(b), first);
    assert.notDeepEqual(seq(c), first);
    assert.ok(first.every((n) => n >= 0 && n <= 1000));
  });
});
