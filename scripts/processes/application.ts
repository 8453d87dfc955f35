/**
 * Application mode: the Master runs one job, submitted by itself, and when that job ends it
 * tells every TaskExecutor to exit and exits too, with code 0 only if the job finished.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ClusterClient } from '../../lib/client/cluster-client.js';
import type { ClusterConfig } from '../../lib/config.js';
import { etcdCredentialsOf } from '../../lib/ha/etcd-auth.js';
import type { Logger } from '../../lib/logging.js';
import type { MasterMessage } from '../../actors/master/protocol.js';
import type { JobResult } from '../../actors/jobmaster/status.js';
import type { ActorSystem } from '../../lib/index.js';

export interface ApplicationJob {
  file: string;
  parallelism?: number;
  args?: Record<string, unknown>;
}

/** `clientSecret`: the one the Master accepts; the application's own client speaks only the client protocol. */
export async function runApplication(
  system: ActorSystem,
  config: ClusterConfig,
  clientSecret: string,
  job: ApplicationJob,
  log: Logger,
): Promise<JobResult> {
  const code = await readFile(job.file);
  const client = await ClusterClient.connect({
    ...(config.etcdEndpoints.length > 0 ? { etcdEndpoints: config.etcdEndpoints, etcdCredentials: etcdCredentialsOf(config) } : { masterAddress: system.node }),
    clusterId: config.clusterId,
    clientSecret,
    logger: log,
  });
  try {
    const jobId = await client.submit(code, {
      name: path.basename(job.file).replace(/\.[cm]?[jt]s$/, ''),
      ...(job.parallelism ? { parallelism: job.parallelism } : {}),
      ...(job.args ? { args: job.args } : {}),
    });
    log.info({ jobId }, 'application job submitted');
    const result = await client.waitForResult(jobId, { pollMs: 500 });
    log.info({ jobId, state: result.state, failure: result.failure?.message }, 'application job ended');
    const { taskExecutors } = await system.ref<MasterMessage>(system.node, 'master').ask({ type: 'master.cluster.shutdown' }, { timeoutMs: 5000 });
    log.info({ taskExecutors }, 'told the TaskExecutors to exit');
    return result;
  } finally {
    await client.close();
  }
}
