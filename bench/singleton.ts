/**
 * Singleton failover: how long a singleton is unreachable through a proxy after its host is
 * killed with SIGKILL, against a bare EtcdLeaderElection failover with the same lease TTL
 * in the same run (the floor: a new host cannot start before the old lease expires).
 *
 * - singleton_failover_ms: kill -9 of the host process until an ask through this process's
 *   proxy is answered by the new host (election + retrieval + restoring persisted state +
 *   spawn + proxy re-routing).
 * - etcd_election_failover_ms (baseline): kill -9 of a leading contender process until an
 *   in-process contender is granted leadership.
 */
import { ActorSystem, createLogger } from '../lib/index.js';
import { createEtcdClient, etcdCredentialEnv, EtcdLeaderElection, haRoot, startEtcdCluster, type EtcdClusterAccess } from '../lib/ha/index.js';
import { SingletonManager, type SingletonRef } from '../lib/singleton/index.js';
import { killAll, launch, type Proc } from '../test/support/launcher.js';
import type { AuditedMessage, AuditedReply } from '../test/fixtures/singleton-machines.js';
import { percentile, round, writeResult } from './support/report.js';

const TTL = 2;
const cluster = { clusterId: 'bench-singleton', secret: 'bench-secret-0123456789' };

async function askUntilAnswered(ref: SingletonRef<AuditedMessage>, notFrom?: string): Promise<AuditedReply> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const answer = await ref.ask({ type: 'inc' }, { timeoutMs: 500 });
      if (answer.node !== notFrom) return answer;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function singletonFailovers(etcd: EtcdClusterAccess, rounds: number): Promise<number[]> {
  const group = `bench-${process.pid}-${Date.now().toString(36)}`;
  const env = { ETCD_ENDPOINTS: etcd.endpoints.join(','), ...etcdCredentialEnv(etcd), GROUP: group, LEASE_TTL: String(TTL), CLUSTER_ID: cluster.clusterId, CLUSTER_SECRET: cluster.secret };
  const start = (i: number): Promise<Proc> => launch('test/fixtures/singleton-node.js', { env: { ...env, NODE_NAME: `node-${i}` }, name: `node-${i}` });
  const nodes: Proc[] = await Promise.all([start(0), start(1)]);
  const system = await ActorSystem.start({ ...cluster, heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000, name: 'bench', logger: createLogger({ level: 'warn' }) });
  const client = createEtcdClient(etcd);
  const manager = new SingletonManager(system, { etcd: client, group, leaseTtlSeconds: TTL, handoverTimeoutMs: 15_000 });
  const ref = manager.proxy<AuditedMessage>('audited');
  const times: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const { node } = await askUntilAnswered(ref);
      const host = nodes.find((p) => p.ready['node'] === node)!;
      const killedAt = performance.now();
      host.kill('SIGKILL');
      await askUntilAnswered(ref, node);
      times.push(performance.now() - killedAt);
      nodes.splice(nodes.indexOf(host), 1, await start(round + 2));
    }
  } finally {
    await manager.close();
    client.close();
    await system.terminate();
    await killAll();
  }
  return times;
}

async function electionFailovers(etcd: EtcdClusterAccess, rounds: number): Promise<number[]> {
  const client = createEtcdClient(etcd);
  const times: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const clusterId = `bench-election-${process.pid}-${round}-${Date.now().toString(36)}`;
      const child = await launch('test/support/etcd.js', {
        args: ['contender'],
        env: { ETCD_ENDPOINTS: etcd.endpoints.join(','), ...etcdCredentialEnv(etcd), CLUSTER_ID: clusterId, LEASE_TTL: String(TTL), ADDRESS: 'child' },
        name: 'contender',
      });
      await child.waitForLine((l) => l.includes('"granted"'), 10_000);
      const election = new EtcdLeaderElection({ root: client.namespace(haRoot(clusterId)), leaseTtlSeconds: TTL });
      const granted = new Promise<number>((resolve) =>
        election.campaign({ grantLeadership: () => resolve(performance.now()), revokeLeadership: () => {} }, 'bench'),
      );
      // Let the in-process contender register before the kill, as the standby singleton hosts have.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const killedAt = performance.now();
      child.kill('SIGKILL');
      times.push((await granted) - killedAt);
      await election.resign();
      await election.close();
      await child.waitForExit(5000).catch(() => undefined);
    }
  } finally {
    client.close();
    await killAll();
  }
  return times;
}

export async function run(quick: boolean): Promise<void> {
  const rounds = quick ? 2 : 5;
  const etcd = await startEtcdCluster({ members: 1 });
  try {
    const singleton = (await singletonFailovers(etcd.clientOptions, rounds)).sort((a, b) => a - b);
    const election = (await electionFailovers(etcd.clientOptions, rounds)).sort((a, b) => a - b);
    const s50 = percentile(singleton, 50);
    const e50 = percentile(election, 50);
    writeResult({
      name: 'singleton',
      quick,
      metrics: {
        singleton_failover_ms_p50: round(s50, 1),
        singleton_failover_ms_max: round(singleton.at(-1)!, 1),
      },
      baselines: { etcd_election_failover_ms_p50: round(e50, 1), etcd_election_failover_ms_max: round(election.at(-1)!, 1) },
      ratios: { singleton_vs_bare_election: round(s50 / e50, 3) },
      notes: [
        `lease TTL ${TTL} s, ${rounds} failovers each, 1-member etcd on loopback`,
        'both are bounded below by the lease TTL: a new term starts only once the killed leader\'s lease expires',
      ],
    });
  } finally {
    await etcd.stop();
  }
}

