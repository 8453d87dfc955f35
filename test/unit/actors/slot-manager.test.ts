import assert from 'node:assert/strict';
import { SlotManager } from '../../../actors/resourcemanager/slot-manager.js';

const slots = (n: number) => Array.from({ length: n }, (_, index) => ({ index, managedMemoryBytes: 1 << 20 }));

describe('resourcemanager - slot manager', () => {
  it('gives a job all its slots at once, spread over TaskExecutors', () => {
    const m = new SlotManager<string, string>('a');
    m.register('te1', 'ref1', 'addr1', slots(2));
    m.register('te2', 'ref2', 'addr2', slots(2));
    m.declare('job', 'jm', [{ group: 'default', count: 2 }], 0);
    const assigned = m.allocate();
    assert.equal(assigned.length, 2);
    assert.deepEqual(new Set(assigned.map((a) => a.taskExecutor.id)), new Set(['te1', 'te2']));
    assert.equal(m.freeSlots(), 2);
  });

  it('keeps a job waiting until enough slots exist, never half-allocating', () => {
    const m = new SlotManager<string, string>('a');
    m.register('te1', 'ref1', 'addr1', slots(2));
    m.declare('job', 'jm', [{ group: 'default', count: 2 }, { group: 'b', count: 1 }], 0);
    assert.deepEqual(m.allocate(), []);
    assert.equal(m.freeSlots(), 2);
    m.register('te2', 'ref2', 'addr2', slots(1));
    const assigned = m.allocate();
    assert.equal(assigned.length, 3);
    assert.deepEqual(assigned.map((a) => a.allocation.group).sort(), ['b', 'default', 'default']);
    assert.equal(m.waitingJobs.size, 0);
  });

  it('serves waiting jobs oldest first', () => {
    const m = new SlotManager<string, string>('a');
    m.declare('late', 'jm2', [{ group: 'default', count: 1 }], 2);
    m.declare('early', 'jm1', [{ group: 'default', count: 1 }], 1);
    m.register('te1', 'ref1', 'addr1', slots(1));
    assert.deepEqual(m.allocate().map((a) => a.jobId), ['early']);
  });

  it('frees a job’s slots and reports who held them', () => {
    const m = new SlotManager<string, string>('a');
    m.register('te1', 'ref1', 'addr1', slots(2));
    m.declare('job', 'jm', [{ group: 'default', count: 2 }], 0);
    m.allocate();
    assert.deepEqual(m.release('job').map((te) => te.id), ['te1']);
    assert.equal(m.freeSlots(), 2);
  });

  it('reports the jobs hit when a TaskExecutor is removed', () => {
    const m = new SlotManager<string, string>('a');
    m.register('te1', 'ref1', 'addr1', slots(1));
    m.register('te2', 'ref2', 'addr2', slots(1));
    m.declare('job', 'jm', [{ group: 'default', count: 2 }], 0);
    m.allocate();
    assert.deepEqual(m.remove('te1'), ['job']);
    assert.equal(m.totalSlots(), 1);
    assert.deepEqual(m.remove('unknown'), []);
  });
});
