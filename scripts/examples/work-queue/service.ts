/**
 * The work-queue service. A process can be a candidate host of the dispatcher singleton
 * (DISPATCHER=1, default) and run workers (WORKERS=n, default 0) that pull items through
 * the dispatcher's proxy, "process" them, print `{"event":"done","id":...}` and ack.
 *
 * Run: `ETCD_ENDPOINTS=http://127.0.0.1:2379 WORKERS=2 node dist/scripts/examples/work-queue/service.js`
 * Env: VISIBILITY_MS (2000), WORK_MS (5), GROUP, LEASE_TTL.
 */
import { print, startExampleNode } from '../support/node.js';
import { dispatcherMachine, dispatcherPersistence, type QueueMessage, type WorkItem } from './dispatcher.js';
import type { SingletonRef } from '../../../lib/singleton/index.js';

const env = process.env;
const node = await startExampleNode('work-queue');
const dispatcher: SingletonRef<QueueMessage> =
  env['DISPATCHER'] === '0'
    ? node.singletons.proxy<QueueMessage>('dispatcher')
    : node.singletons.start('dispatcher', dispatcherMachine, {
        input: (singletonEnv) => ({ env: singletonEnv, visibilityMs: Number(env['VISIBILITY_MS'] ?? 2000) }),
        persistence: { store: node.store, ...dispatcherPersistence },
      });

const workMs = Number(env['WORK_MS'] ?? 5);
let running = true;
process.on('SIGTERM', () => (running = false));

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One worker: register, then pull, work, ack, until the process stops. */
async function work(worker: string): Promise<void> {
  while (running) {
    try {
      await dispatcher.ask({ type: 'queue.register', worker }, { timeoutMs: 2000 });
      break;
    } catch {
      await pause(100);
    }
  }
  while (running) {
    let item: WorkItem | null;
    try {
      item = await dispatcher.ask({ type: 'queue.pull', worker }, { timeoutMs: 2000 });
    } catch {
      // No dispatcher right now (a handover): try again shortly.
      await pause(100);
      continue;
    }
    if (!item) {
      await pause(50);
      continue;
    }
    await pause(workMs);
    print({ event: 'done', id: item.id, worker });
    try {
      dispatcher.tell({ type: 'queue.ack', worker, id: item.id });
    } catch {
      // Lost ack: the item comes back after its visibility timeout and is done again.
    }
  }
}

for (let i = 0; i < Number(env['WORKERS'] ?? 0); i++) void work(`${node.system.node}/w${i}`);
print({ ready: true, node: node.system.node, pid: process.pid });
