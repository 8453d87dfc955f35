/**
 * The hosts benchmark's client, run inside a namespace host (the bench process, in the root
 * namespace, reaches no host address). Its environment is the cluster's (FLINKISH_CLUSTER_ID,
 * FLINKISH_CLIENT_SECRET, FLINKISH_ETCD_ENDPOINTS and credentials).
 *
 * Args: `--job FILE` (optional: without it, it only watches the Masters), `--parallelism N`,
 * `--arg key=value` (repeatable), `--rest HOST:PORT,...` (the Masters' REST, to watch), `--poll-ms`.
 *
 * Prints JSON lines on stdout, each with `time` (ms since the epoch, the machine's one clock):
 * `{ready,jobId}`; then only when what it sees changes (it polls every `--poll-ms`, 20 by
 * default, so a change is timed to within a poll and a request), `{event:"status",attempt,state,
 * running,lastCheckpoint,taskExecutors}` (`running`: every subtask runs; `lastCheckpoint`: the
 * latest completed checkpoint's id, 0 for none) and `{event:"masters",masters:[{rest,isLeader,leader}]}` (each Master's own answer to
 * GET /api/leader, nulls if unreachable); once the job has ended
 * `{event:"result",state,attempt,restoredFrom,checkpoints:[CheckpointStats],failure}`.
 * Runs until SIGTERM, which cancels the job if it still runs.
 */
import { parseArgs } from 'node:util';
import type { ClusterClient } from '../../lib/client/cluster-client.js';
import { clientFromEnv, leaderAnswer } from '../../scripts/support/in-host-client.js';

const print = (value: Record<string, unknown>): void => void process.stdout.write(JSON.stringify({ time: Date.now(), ...value }) + '\n');
const { values } = parseArgs({
  options: {
    job: { type: 'string' },
    parallelism: { type: 'string' },
    arg: { type: 'string', multiple: true, default: [] },
    rest: { type: 'string', default: '' },
    'poll-ms': { type: 'string', default: '20' },
  },
});
const args = Object.fromEntries(values.arg!.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const rests = values.rest!.split(',').filter(Boolean);
const pollMs = Number(values['poll-ms']);

let jobId: string | null = null;
let client: ClusterClient | null = null;
if (values.job) {
  client = await clientFromEnv('hosts-bench-client');
  jobId = await client.submitFile(values.job, { args, ...(values.parallelism ? { parallelism: Number(values.parallelism) } : {}) });
}
print({ ready: true, jobId });

let ended = false;
if (client && jobId) {
  void client.waitForResult(jobId, { pollMs: 50 }).then(
    (r) => {
      ended = true;
      print({ event: 'result', state: r.state, attempt: r.details.attempt, restoredFrom: r.details.restoredFrom, checkpoints: r.details.checkpoints, failure: r.failure ?? null });
    },
    (err: Error) => print({ event: 'result', state: 'unknown', error: err.message }),
  );
}


/** Prints `value` as `event` when it differs from what was printed last for that event. */
const last = new Map<string, string>();
function printChanged(event: string, value: Record<string, unknown>): void {
  const text = JSON.stringify(value);
  if (last.get(event) === text) return;
  last.set(event, text);
  print({ event, ...value });
}

process.on('SIGTERM', () => {
  const cancel = client && jobId && !ended ? client.cancel(jobId).then(() => client!.waitForResult(jobId!, { pollMs: 50 })) : Promise.resolve();
  void cancel.catch(() => undefined).finally(() => process.exit(0));
});

for (;;) {
  const started = Date.now();
  if (client && jobId && !ended) {
    try {
      const d = await client.status(jobId);
      printChanged('status', {
        state: d.state,
        attempt: d.attempt,
        running: d.subtasks.length > 0 && d.subtasks.every((s) => s.state === 'running'),
        lastCheckpoint: Math.max(0, ...d.checkpoints.filter((c) => c.status === 'completed').map((c) => c.id)),
        taskExecutors: [...new Set(d.subtasks.map((s) => s.taskExecutorId))].sort(),
      });
    } catch (err) {
      printChanged('status', { error: (err as Error).message });
    }
  }
  if (rests.length) printChanged('masters', { masters: await Promise.all(rests.map(leaderAnswer)) });
  // The polling period (not a wait for a condition): what is seen is timed to within it.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, pollMs - (Date.now() - started))));
}
