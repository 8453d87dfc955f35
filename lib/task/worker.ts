/**
 * The entry of a task's worker thread. It rebuilds the job's stream graph from the job module
 * (the same module and arguments as on the Master, so the same operator ids), finds its
 * vertex, wires the StreamTask to the TaskRunner through `parentPort`, and runs it.
 *
 * With `tdd.restore` it first reads the snapshots of its vertex (snapshot-store.ts).
 *
 * A spare thread (spare-workers.ts) starts without a deployment and gets its WorkerInit in an
 * `init` message. Messages that arrive while the module is still loading are held and handed
 * over in order.
 * When the task has reported its terminal state the port is unref'd, so the thread ends by
 * itself once its last messages are out.
 *
 * From the start (the module's own top level included) the worker measures its off-heap
 * memory and fails the task with TASK_OUT_OF_MEMORY past the slot's share (offheap-monitor.ts);
 * the TaskRunner then terminates the thread.
 */
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { buildJobGraph, jobVertex } from '../dataflow/jobgraph.js';
import { buildStreamGraph, importJobFunction } from '../dataflow/jobmodule.js';
import { toWireError } from '../errors.js';
import { TaskOffHeapMemoryError, UnknownVertexError } from './errors.js';
import { watchOffHeapMemory } from './offheap-monitor.js';
import { loadRestoredState } from './snapshot-store.js';
import { configureStorage, prepareStorage } from '../storage/index.js';
import { StreamTask } from './stream-task.js';
import type { SpareWorkerData } from './spare-workers.js';
import type { FromWorker, SpareInitMessage, ToWorker, WorkerInit } from './worker-protocol.js';
import { prepareJobThread } from '../dataflow/job-api.js';

const port = parentPort;
if (port === null) throw new Error('lib/task/worker.js runs only as a worker thread');
// Before the job module loads: its `flinkish` imports, and its frames named by its source map.
prepareJobThread({ fileSourceMaps: true });

function post(msg: FromWorker, transfer?: ArrayBuffer[]): void {
  port!.postMessage(msg, transfer);
}

let task: StreamTask | null = null;
const early: ToWorker[] = [];
let initArrived: (init: WorkerInit) => void = () => undefined;
const spareInit = new Promise<WorkerInit>((resolve) => (initArrived = resolve));
port.on('message', (msg: ToWorker | SpareInitMessage) => {
  if (msg.t === 'init') initArrived(msg.init);
  else if (task === null) early.push(msg);
  else task.onMessage(msg);
});

// A spare (spare-workers.ts) has loaded all of the above and waits here for its one task.
const given = workerData as WorkerInit | SpareWorkerData;
if ('spare' in given) post({ t: 'spare.ready' });
const { tdd, settings, offHeapLimitBytes, storage } = 'spare' in given ? await spareInit : given;
if (storage) configureStorage(storage);
// Ready before the first checkpoint (an object store's client loads while the task starts).
if (tdd.checkpointDir) prepareStorage(tdd.checkpointDir);


if (offHeapLimitBytes !== undefined) {
  const MB = 1024 * 1024;
  watchOffHeapMemory({
    limitBytes: offHeapLimitBytes,
    onExceeded: (used) => {
      const error = new TaskOffHeapMemoryError(tdd.executionId, Math.round(offHeapLimitBytes / MB), Math.round(used / MB));
      post({ t: 'state', state: 'failed', error: toWireError(error) });
    },
  });
}

function moduleUrl(path: string): string {
  return /^(file|data):/.test(path) ? path : pathToFileURL(path).href;
}

try {
  const job = await importJobFunction(moduleUrl(tdd.jobModulePath));
  const graph = buildStreamGraph(job, { parallelism: tdd.defaultParallelism, args: tdd.jobArgs });
  const vertex = jobVertex(buildJobGraph(graph.describe()), tdd.vertexId);
  if (vertex === undefined) throw new UnknownVertexError(tdd.vertexId);
  const restored = await loadRestoredState(tdd);
  const created = new StreamTask(tdd, graph, vertex, { post }, settings, restored);
  created.onDone = () => port.unref();
  task = created;
  created.start();
  for (const msg of early.splice(0)) created.onMessage(msg);
} catch (err) {
  post({ t: 'state', state: 'failed', error: toWireError(err) });
  port.unref();
}
