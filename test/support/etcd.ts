/**
 * Real etcd for tests: `useEtcd(members)` starts a cluster before a test file's tests and
 * stops it (kill by PID, temp dirs removed) after them.
 *
 * Run as a program (`node dist/test/support/etcd.js contender`), this file is a leader
 * contender in its own process, for tests that SIGKILL or SIGSTOP it. It prints JSON lines:
 * `{"ready":true}`, `{"event":"granted","sessionId"}`, `{"event":"revoked"}`, and every
 * 200 ms while it holds a guard (kept after revocation on purpose, as a buggy or paused
 * leader would) the outcome of a guarded write: `{"event":"write","ok","code","sessionId"}`.
 */
import { fileURLToPath } from 'node:url';
import {
  EtcdHaServices,
  etcdCredentialsFromEnv,
  startEtcdCluster,
  type EtcdCluster,
  type EtcdLeaderGuard,
  type EtcdHaServicesOptions,
} from '../../lib/ha/index.js';
import { RuntimeError } from '../../lib/errors.js';

const clusters = new Set<EtcdCluster>();

export async function startTestEtcd(members: 1 | 3 = 1): Promise<EtcdCluster> {
  const cluster = await startEtcdCluster({ members });
  clusters.add(cluster);
  return cluster;
}

export async function stopTestEtcd(): Promise<void> {
  const all = [...clusters];
  clusters.clear();
  await Promise.all(all.map((c) => c.stop()));
}

/** Register mocha hooks: a cluster for this file's tests, stopped after them. */
export function useEtcd(members: 1 | 3 = 1): { readonly cluster: EtcdCluster } {
  const holder: { cluster?: EtcdCluster } = {};
  before(async function () {
    this.timeout(30_000);
    holder.cluster = await startTestEtcd(members);
  });
  after(async function () {
    this.timeout(30_000);
    await stopTestEtcd();
  });
  return {
    get cluster(): EtcdCluster {
      if (!holder.cluster) throw new Error('etcd not started yet');
      return holder.cluster;
    },
  };
}

/** A fresh cluster id per test, so that tests sharing one etcd do not see each other's keys. */
let clusterSeq = 0;
export function uniqueClusterId(prefix = 'test'): string {
  return `${prefix}-${process.pid}-${++clusterSeq}-${Date.now().toString(36)}`;
}

async function runContender(): Promise<void> {
  const env = process.env;
  const options: EtcdHaServicesOptions = {
    endpoints: (env['ETCD_ENDPOINTS'] ?? '').split(','),
    ...etcdCredentialsFromEnv(env),
    clusterId: env['CLUSTER_ID'] ?? 'test',
    leaseTtlSeconds: Number(env['LEASE_TTL'] ?? 3),
  };
  const ha = new EtcdHaServices(options);
  const election = ha.leaderElection();
  const print = (value: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(value) + '\n');
  let guard: EtcdLeaderGuard | null = null;
  election.campaign(
    {
      grantLeadership: (sessionId) => {
        guard = election.guard();
        print({ event: 'granted', sessionId });
      },
      revokeLeadership: () => print({ event: 'revoked' }),
    },
    env['ADDRESS'] ?? `contender-${process.pid}`,
  );
  let seq = 0;
  let writing = false;
  setInterval(() => {
    const current = guard;
    if (!current || writing) return;
    writing = true;
    const n = ++seq;
    ha.jobGraphStore(current)
      .put('probe', { by: process.pid, sessionId: current.sessionId, seq: n })
      .then(
        () => print({ event: 'write', ok: true, seq: n, sessionId: current.sessionId }),
        (err: unknown) => print({ event: 'write', ok: false, seq: n, sessionId: current.sessionId, code: err instanceof RuntimeError ? err.code : String(err) }),
      )
      .finally(() => (writing = false));
  }, 200);
  process.on('SIGTERM', () => void ha.close().then(() => process.exit(0)));
  print({ ready: true, pid: process.pid });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'contender') {
  await runContender();
}
