/**
 * Attacks on the real processes: events that only a process itself may generate (leadership
 * granted/revoked, stop, leader changed), forged by an authenticated peer, are refused by type.
 */
import assert from 'node:assert/strict';
import { ActorSystem } from '../../lib/actor/system.js';
import type { MasterMessage } from '../../actors/master/protocol.js';
import type { TaskExecutorMessage } from '../../actors/taskexecutor/protocol.js';
import { startHaCluster, type HaCluster } from '../../scripts/support/local-ha.js';
import { killAll } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';

/** Whatever an attacker cares to write: the type checks of our protocols do not bind it. */
type Forged = { type: string; [field: string]: unknown };

const REFUSED = 'refused a local-only message from the network';

describe('security - forged internal events', function () {
  this.timeout(90_000);
  let cluster: HaCluster | undefined;
  let attacker: ActorSystem | undefined;
  afterEach(async () => {
    await attacker?.terminate();
    attacker = undefined;
    await cluster?.stop();
    cluster = undefined;
    await killAll();
  });

  it('refuses forged leadership, stop and leader-changed events: the leader keeps serving, the standby does not, the TaskExecutor stays', async () => {
    cluster = await startHaCluster({ masters: 2, taskExecutors: 1, slots: 1 });
    const client = await cluster.client();
    await waitFor('a TaskExecutor registered with the leader', async () => (await client.overview()).taskExecutors.length === 1, {
      timeoutMs: 20_000,
    });
    const c = cluster;
    const leader = c.leader(client)!;
    const standby = c.masters.find((m) => m !== leader)!;
    const te = c.taskExecutors[0]!;
    const { leaderSessionId: sessionId } = await client.overview();

    // An authenticated peer: it holds the cluster secret (e.g. a client), not the processes' memory.
    attacker = await ActorSystem.start({ clusterId: c.env['FLINKISH_CLUSTER_ID']!, secret: c.env['FLINKISH_SECRET']!, listen: false });
    const leaderMaster = attacker.ref<Forged>(leader.ready['node'] as string, 'master');
    const standbyMaster = attacker.ref<Forged>(standby.ready['node'] as string, 'master');
    const taskExecutor = attacker.ref<Forged>(te.ready['node'] as string, 'taskexecutor');
    leaderMaster.tell({ type: 'master.leadership.revoked' });
    leaderMaster.tell({ type: 'master.stop' });
    standbyMaster.tell({ type: 'master.leadership.granted', sessionId });
    taskExecutor.tell({ type: 'te.leader.changed', masterNode: null });

    // Each process says it refused them.
    await leader.waitForLine((line) => line.includes(REFUSED) && line.includes('master.leadership.revoked'), 10_000);
    await standby.waitForLine((line) => line.includes(REFUSED) && line.includes('master.leadership.granted'), 10_000);
    await te.waitForLine((line) => line.includes(REFUSED) && line.includes('te.leader.changed'), 10_000);

    // The leader still leads and serves; the standby still refuses to serve.
    const asLeader = attacker.ref<MasterMessage>(leaderMaster.node, 'master');
    const asStandby = attacker.ref<MasterMessage>(standbyMaster.node, 'master');
    const asTaskExecutor = attacker.ref<TaskExecutorMessage>(taskExecutor.node, 'taskexecutor');
    const overview = (await asLeader.ask({ type: 'master.cluster.overview' }, { timeoutMs: 5000 }));
    assert.equal(overview.taskExecutors.length, 1);
    await assert.rejects(asStandby.ask({ type: 'master.cluster.overview' }, { timeoutMs: 5000 }), { code: 'NOT_LEADER' });
    assert.ok(leader.running && standby.running);
    assert.equal(c.leader(client), leader);
    // A TaskExecutor that had left its leader would not answer the leader's heartbeat.
    const report = (await asTaskExecutor.ask({ type: 'te.heartbeat', leaderSessionId: sessionId }, { timeoutMs: 5000 }));
    assert.equal(report.taskExecutorId, te.ready['taskExecutorId']);
    assert.equal((await client.overview()).taskExecutors.length, 1);
  });
});
