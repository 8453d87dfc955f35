/**
 * Several TaskExecutors in one process, for the scale benchmark: each is a whole TaskExecutor
 * as `flinkish taskexecutor` starts it (its own actor system, task runtime, data server and
 * leader retrieval), built by the same `startTaskExecutor`; only the process is shared, so
 * that hundreds fit on a small machine. Configuration from FLINKISH_* env, like the CLI.
 * Args: COUNT ID_PREFIX. Prints one ready line once every TaskExecutor has started.
 */
import { loadConfig } from '../../lib/config.js';
import { startTaskExecutor, type RunningTaskExecutor } from '../../scripts/processes/taskexecutor.js';

const count = Number(process.argv[2]);
const prefix = process.argv[3] ?? `host-${process.pid}`;
if (!Number.isInteger(count) || count < 1) {
  console.error('usage: taskexecutor-host COUNT ID_PREFIX');
  process.exit(2);
}
const config = loadConfig();
const started: RunningTaskExecutor[] = [];
let stopping = false;
const stopAll = () => {
  if (stopping) return;
  stopping = true;
  void Promise.allSettled(started.map((te) => te.stop())).then(() => process.exit(0));
};
process.on('SIGTERM', stopAll);
process.on('SIGINT', stopAll);
// A few at a time: each start binds two servers and opens an etcd client.
const BATCH = 8;
for (let i = 0; i < count; i += BATCH) {
  const ids = Array.from({ length: Math.min(BATCH, count - i) }, (_, j) => `${prefix}-${i + j}`);
  started.push(...(await Promise.all(ids.map((id) => startTaskExecutor(config, { id })))));
}
process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, taskExecutors: started.map((te) => te.taskExecutorId) }) + '\n');
