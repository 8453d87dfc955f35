import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { launch, killAll, type Proc } from '../support/launcher.js';
import { useEtcd, uniqueClusterId } from '../support/etcd.js';
import { startLocalSystem, testCluster } from '../support/actor-nodes.js';
import { nextEvent, waitFor } from '../support/wait.js';
import { ErrorCode, type ActorSystem, type RuntimeError } from '../../lib/index.js';
import { createEtcdClient, etcdCredentialEnv, haRoot, type EtcdClusterAccess } from '../../lib/ha/index.js';
import { SingletonErrorCode, SingletonManager, type SingletonRef } from '../../lib/singleton/index.js';
import type { AuditedMessage, AuditedReply } from '../fixtures/singleton-machines.js';

const TTL = 2;

interface Node extends Proc {
  node: string;
}

async function startNode(etcd: EtcdClusterAccess, group: string, name: string): Promise<Node> {
  const proc = await launch('test/fixtures/singleton-node.js', {
    env: { ETCD_ENDPOINTS: etcd.endpoints.join(','), ...etcdCredentialEnv(etcd), GROUP: group, LEASE_TTL: String(TTL), NODE_NAME: name, CLUSTER_ID: testCluster.clusterId, CLUSTER_SECRET: testCluster.secret },
    name,
  });
  return Object.assign(proc, { node: String(proc.ready['node']) });
}

function events(proc: Proc): Array<Record<string, unknown>> {
  return proc.output.filter((l) => l.startsWith('{"event"')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Ask until a reply comes, riding over the errors of a handover. */
async function askInc(ref: SingletonRef<AuditedMessage>, timeoutMs = 15_000): Promise<AuditedReply> {
  return waitFor('an answer through the proxy', () => ref.ask({ type: 'inc' }, { timeoutMs: 1000 }), { timeoutMs, intervalMs: 50 });
}

/** Audit records in etcd in commit order: tokens must never go down. */
async function auditTokens(client: Etcd3, group: string): Promise<string[]> {
  const root = client.namespace(`${haRoot(group)}singletons/audited/`);
  const res = await root.getAll().prefix('audit/').exec();
  return res.kvs
    .sort((a, b) => Number(BigInt(a.mod_revision) - BigInt(b.mod_revision)))
    .map((kv) => (JSON.parse(kv.value.toString()) as { token: string }).token);
}

function assertTermsNeverOverlap(tokens: string[]): void {
  for (let i = 1; i < tokens.length; i++) {
    assert.ok(tokens[i]! >= tokens[i - 1]!, `token ${tokens[i]} acted after ${tokens[i - 1]} (record ${i})`);
  }
}

describe('singleton (real etcd, processes)', function () {
  this.timeout(60_000);
  const etcd = useEtcd(1);
  let system: ActorSystem;
  let client: Etcd3;
  const managers: SingletonManager[] = [];

  before(async () => {
    system = await startLocalSystem();
    client = createEtcdClient(etcd.cluster.clientOptions);
  });
  after(async () => {
    client.close();
    await system.terminate();
  });
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.close()));
    await killAll();
  });

  function proxyOf(group: string, handoverTimeoutMs = 10_000): SingletonRef<AuditedMessage> {
    const manager = new SingletonManager(system, { etcd: client, group, leaseTtlSeconds: TTL, handoverTimeoutMs });
    managers.push(manager);
    return manager.proxy<AuditedMessage>('audited');
  }

  async function twoNodes(group: string): Promise<{ host: Node; other: Node; ref: SingletonRef<AuditedMessage> }> {
    const nodes = await Promise.all([startNode(etcd.cluster.clientOptions, group, 'a'), startNode(etcd.cluster.clientOptions, group, 'b')]);
    const ref = proxyOf(group);
    const first = await askInc(ref);
    const host = nodes.find((n) => n.node === first.node)!;
    const other = nodes.find((n) => n !== host)!;
    assert.ok(host && other, `host ${first.node} is none of ${nodes.map((n) => n.node).join(', ')}`);
    return { host, other, ref };
  }

  it('singleton - host killed with SIGKILL: another node takes over, proxies route to it, state survives, terms never overlap', async () => {
    const group = uniqueClusterId('singleton');
    const { host, other, ref } = await twoNodes(group);
    await askInc(ref);
    const before = await askInc(ref);
    assert.equal(before.n, 3);
    host.kill('SIGKILL');
    const after = await askInc(ref);
    assert.equal(after.node, other.node);
    assert.ok(after.token > before.token, `new token ${after.token} not above ${before.token}`);
    assert.equal(after.n, 4, 'the increments before the kill survive the move');
    assert.equal(ref.host, other.node);
    await waitFor('the new host acting on its own', () => events(other).filter((e) => e['event'] === 'acted' && e['ok'] === true).length >= 3);
    const tokens = await auditTokens(client, group);
    assertTermsNeverOverlap(tokens);
    assert.deepEqual([...new Set(tokens)], [before.token, after.token]);
  });

  it('singleton - host paused past the TTL is fenced, a new host acts, state survives', async () => {
    const group = uniqueClusterId('singleton');
    const { host, other, ref } = await twoNodes(group);
    const before = await askInc(ref);
    await host.pause();
    const after = await askInc(ref);
    assert.equal(after.node, other.node);
    assert.equal(after.n, before.n + 1);
    const resumedAt = host.output.length;
    host.resume();
    // Woken up, the old host stops its instance; whatever it still tries is fenced.
    await waitFor('the old host to stop', () => events(host).some((e) => e['event'] === 'stopped' && e['token'] === before.token));
    const newActs = events(other).filter((e) => e['event'] === 'acted' && e['ok'] === true).length;
    await waitFor('the new host to keep acting', () => events(other).filter((e) => e['event'] === 'acted' && e['ok'] === true).length >= newActs + 5);
    // Only acts begun after waking count: a write sent before the pause may be confirmed after it
    // (etcd committed it while the old term still held); the etcd audit below orders those.
    const late = host.output.slice(resumedAt).filter((l) => l.startsWith('{"event":"act')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const begunLate = new Set(late.filter((e) => e['event'] === 'acting').map((e) => e['seq']));
    const lateOk = late.filter((e) => e['event'] === 'acted' && e['ok'] === true && begunLate.has(e['seq']));
    assert.deepEqual(lateOk, [], 'the old host acted after it woke up');
    const tokens = await auditTokens(client, group);
    assertTermsNeverOverlap(tokens);
    assert.equal((await askInc(ref)).n, before.n + 2);
  });

  it('singleton - proxy buffers messages during a handover and delivers them to the new host', async () => {
    const group = uniqueClusterId('singleton');
    const { host, other, ref } = await twoNodes(group);
    const down = nextEvent<string>('node.down of the host', (cb) => system.events.on('node.down', (node) => node === host.node && cb(node)));
    host.kill('SIGKILL');
    await down;
    const asks = Array.from({ length: 5 }, () => ref.ask({ type: 'inc' }, { timeoutMs: 5000 }));
    assert.equal(ref.buffered, 5, 'asks wait in the buffer while the host is down');
    const replies = await Promise.all(asks);
    assert.ok(replies.every((r) => r.node === other.node));
    assert.deepEqual(replies.map((r) => r.n).sort((a, b) => a - b), [2, 3, 4, 5, 6]);
  });

  it('singleton - a handover longer than handoverTimeoutMs fails buffered messages with SINGLETON_UNAVAILABLE', async () => {
    const group = uniqueClusterId('singleton');
    const only = await startNode(etcd.cluster.clientOptions, group, 'only');
    const ref = proxyOf(group, 1000);
    await askInc(ref);
    const down = nextEvent<string>('node.down of the host', (cb) => system.events.on('node.down', (node) => node === only.node && cb(node)));
    only.kill('SIGKILL');
    await down;
    const started = Date.now();
    const err = (await ref.ask({ type: 'inc' }, { timeoutMs: 5000 }).then(
      () => assert.fail('answered without a host'),
      (e: RuntimeError) => e,
    )) as RuntimeError;
    const waited = Date.now() - started;
    assert.equal(err.code, SingletonErrorCode.Unavailable, err.message);
    assert.notEqual(err.code, ErrorCode.AskTimeout);
    assert.ok(waited >= 900 && waited < 3000, `failed after ${waited} ms`);
    assert.match(err.message, /handover timeout/);
  });
});
