import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { launch, killAll, type Proc } from '../support/launcher.js';
import { useEtcd, uniqueClusterId } from '../support/etcd.js';
import { startLocalSystem, testCluster } from '../support/actor-nodes.js';
import { waitFor } from '../support/wait.js';
import type { ActorSystem } from '../../lib/index.js';
import { createEtcdClient, etcdCredentialEnv } from '../../lib/ha/index.js';
import { SingletonManager } from '../../lib/singleton/index.js';
import type { QueueMessage } from '../../scripts/examples/work-queue/dispatcher.js';

interface Service extends Proc {
  node: string;
}

async function service(script: string, name: string, env: Record<string, string>): Promise<Service> {
  const proc = await launch(`scripts/examples/${script}`, { env: { CLUSTER_ID: testCluster.clusterId, CLUSTER_SECRET: testCluster.secret, LEASE_TTL: '2', NODE_NAME: name, ...env }, name });
  return Object.assign(proc, { node: String(proc.ready['node']) });
}

interface TakeResponse {
  status: number;
  body: { allowed?: boolean; remaining?: number; host: string | null; code?: string };
}

async function take(proc: Proc, key: string): Promise<TakeResponse> {
  const res = await fetch(`http://127.0.0.1:${String(proc.ready['httpPort'])}/take?key=${key}`);
  return { status: res.status, body: (await res.json()) as TakeResponse['body'] };
}

/** A verdict (200 or 429), riding over 503s while the limiter moves. */
function verdict(proc: Proc, key: string): Promise<TakeResponse> {
  return waitFor('a verdict', async () => {
    const res = await take(proc, key);
    return res.status === 503 ? null : res;
  }, { timeoutMs: 15_000, intervalMs: 50 });
}

describe('examples (real etcd, processes)', function () {
  this.timeout(60_000);
  const etcd = useEtcd(1);
  afterEach(() => killAll());

  it('examples - the rate limiter keeps its limits across a kill of its host', async () => {
    const env = { ETCD_ENDPOINTS: etcd.cluster.endpoints.join(','), ...etcdCredentialEnv(etcd.cluster.credentials), GROUP: uniqueClusterId('limiter'), CAPACITY: '5', REFILL_PER_SECOND: '0' };
    const a = await service('rate-limiter/service.js', 'limiter-a', env);
    const b = await service('rate-limiter/service.js', 'limiter-b', env);
    const first = await verdict(a, 'alice');
    assert.equal(first.status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await verdict(b, 'alice')).status, 200);
    assert.equal((await verdict(a, 'bob')).status, 200, 'keys are limited apart');
    const host = first.body.host === a.node ? a : b;
    const survivor = host === a ? b : a;
    host.kill('SIGKILL');
    const after = [await verdict(survivor, 'alice'), await verdict(survivor, 'alice'), await verdict(survivor, 'alice')];
    assert.deepEqual(after.map((r) => r.status), [200, 200, 429], 'alice had 5 tokens: 3 before the kill, 2 after');
    assert.equal(after[2]!.body.host, survivor.node);
  });

  it('examples - the work queue loses no item across a kill of its dispatcher', async () => {
    const env = { ETCD_ENDPOINTS: etcd.cluster.endpoints.join(','), ...etcdCredentialEnv(etcd.cluster.credentials), GROUP: uniqueClusterId('queue'), VISIBILITY_MS: '1000' };
    const [a, b] = await Promise.all([service('work-queue/service.js', 'queue-a', env), service('work-queue/service.js', 'queue-b', env)]);
    const worker = await service('work-queue/service.js', 'worker', { ...env, DISPATCHER: '0', WORKERS: '2' });
    const system: ActorSystem = await startLocalSystem();
    const client: Etcd3 = createEtcdClient(etcd.cluster.clientOptions);
    const manager = new SingletonManager(system, { etcd: client, group: env.GROUP });
    try {
      const queue = manager.proxy<QueueMessage>('dispatcher');
      const ids = Array.from({ length: 120 }, (_, i) => `item-${i}`);
      const enqueue = (id: string): Promise<unknown> =>
        waitFor(`enqueue ${id}`, () => queue.ask({ type: 'queue.enqueue', item: { id, payload: { n: id } } }, { timeoutMs: 1000 }), {
          timeoutMs: 15_000,
          intervalMs: 50,
        });
      for (const id of ids.slice(0, 60)) await enqueue(id);
      await waitFor('some work done', () => worker.output.filter((l) => l.includes('"done"')).length >= 10);
      const host = queue.host === a.node ? a : b;
      host.kill('SIGKILL');
      for (const id of ids.slice(60)) await enqueue(id);
      const done = (): Set<string> =>
        new Set(worker.output.filter((l) => l.startsWith('{"event":"done"')).map((l) => (JSON.parse(l) as { id: string }).id));
      await waitFor('every item done', () => ids.every((id) => done().has(id)), { timeoutMs: 30_000, intervalMs: 100 });
      const stats = await waitFor('an empty queue', async () => {
        const s = await queue.ask({ type: 'queue.stats' }, { timeoutMs: 1000 });
        return s.queued === 0 && s.inflight === 0 ? s : null;
      }, { timeoutMs: 10_000, intervalMs: 100 });
      assert.ok(stats.done >= ids.length - 10, `acks counted: ${stats.done}`);
      assert.equal(stats.workers.length, 2);
    } finally {
      await manager.close();
      client.close();
      await system.terminate();
    }
  });
});
