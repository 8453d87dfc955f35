/** What tests of HA clusters share: a cluster per test, and waits for a leader (other than one just lost) and a first checkpoint. */
import type { ClusterClient } from '../../lib/client/cluster-client.js';
import { startHaCluster, type HaCluster, type HaClusterOptions } from '../../scripts/support/local-ha.js';
import { killAll, type Proc } from './launcher.js';
import { waitFor } from './wait.js';

/** The leading Master's process, once the cluster has one that is not `not`. */
export async function leaderOf(cluster: HaCluster, client: ClusterClient, not?: Proc): Promise<Proc> {
  return waitFor('a leading Master', () => {
    const leader = cluster.leader(client);
    return leader && leader !== not ? leader : undefined;
  }, { timeoutMs: 20_000 });
}

/** Once the job has a completed checkpoint: what a failover test needs before it kills anything. */
export async function firstCheckpoint(client: ClusterClient, jobId: string): Promise<void> {
  await waitFor('a completed checkpoint', async () => (await client.status(jobId)).checkpoints.some((c) => c.status === 'completed'), {
    timeoutMs: 30_000,
  });
}

/**
 * An HA cluster per test of the enclosing `describe`: `start` makes it, and after each test,
 * passed or failed, it is stopped and every process the test launched is killed. A failed
 * test's work directory, with every process's log file, is kept and named.
 */
export function haClusterPerTest(): { start(options?: HaClusterOptions): Promise<HaCluster> } {
  let cluster: HaCluster | undefined;
  afterEach(async function () {
    const failed = this.currentTest?.state === 'failed';
    await cluster?.stop({ keepWorkDir: failed });
    if (failed && cluster) console.error(`      logs kept in ${cluster.logsDir}`);
    cluster = undefined;
    await killAll();
  });
  return {
    async start(options) {
      cluster = await startHaCluster(options);
      return cluster;
    },
  };
}
