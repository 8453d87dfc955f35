/**
 * Faults of a run, drawn from its seed: each starts at a random time of the fault window and
 * heals within a few seconds. Kinds: a node isolated (symmetric partition), a Master cut from
 * etcd (its keepalives fail), a one-way cut, a connection reset, a paused node, a crash and
 * restart, etcd unavailable, and a task failure.
 */
import { ETCD } from './etcd.js';
import type { SimCluster } from './cluster.js';

const FAULT_KINDS = ['isolate', 'etcd-cut', 'one-way', 'reset', 'pause', 'crash', 'etcd-down', 'task-failure'] as const;

export interface FaultWindow {
  startMs: number;
  endMs: number;
}

/** Schedule `count` faults; returns when the last one heals (ms since the start). */
export function scheduleFaults(cluster: SimCluster, count: number, window: FaultWindow): number {
  const { rng, scheduler, network } = cluster;
  let quietFrom = 0;
  for (let i = 0; i < count; i++) {
    const kind = rng.pick(FAULT_KINDS);
    const at = rng.int(window.startMs, window.endMs);
    const duration = rng.int(500, 6000);
    const process = rng.pick(cluster.processes);
    const healAt = at + duration;
    quietFrom = Math.max(quietFrom, kind === 'reset' || kind === 'task-failure' ? at : healAt);
    const fault = (label: string, start: () => void, heal?: () => void) => {
      scheduler.at(at, `FAULT ${label}`, start);
      if (heal) scheduler.at(healAt, `HEAL ${label}`, heal);
    };
    switch (kind) {
      case 'isolate': {
        const others = cluster.endpoints.filter((e) => e !== process.nodeId);
        fault(
          `isolate ${process.name} for ${duration} ms`,
          () => others.forEach((o) => (network.cut(process.nodeId, o), network.cut(o, process.nodeId))),
          () => others.forEach((o) => (network.heal(process.nodeId, o), network.heal(o, process.nodeId))),
        );
        break;
      }
      case 'etcd-cut': {
        const master = rng.pick(cluster.masters);
        fault(
          `cut ${master.name} from etcd for ${duration} ms`,
          () => (network.cut(master.nodeId, ETCD), network.cut(ETCD, master.nodeId)),
          () => (network.heal(master.nodeId, ETCD), network.heal(ETCD, master.nodeId)),
        );
        break;
      }
      case 'one-way': {
        const from = rng.pick(cluster.endpoints);
        const to = rng.pick(cluster.endpoints.filter((e) => e !== from));
        fault(`one-way cut ${network.name(from)} -> ${network.name(to)} for ${duration} ms`, () => network.cut(from, to), () => network.heal(from, to));
        break;
      }
      case 'reset': {
        const other = rng.pick(cluster.processes.filter((p) => p !== process));
        fault(`reset ${process.name} <-> ${other.name}`, () => network.breakConnection(process.nodeId, other.nodeId));
        break;
      }
      case 'pause':
        fault(`pause ${process.name} for ${duration} ms`, () => cluster.pause(process), () => cluster.resume(process));
        break;
      case 'crash': {
        const target = cluster.process(process.name);
        fault(
          `crash ${process.name}, restart after ${duration} ms`,
          () => cluster.crash(target),
          () => cluster.restartLoudly(target),
        );
        break;
      }
      case 'etcd-down':
        fault(`etcd unavailable for ${duration} ms`, () => (cluster.etcd.available = false), () => (cluster.etcd.available = true));
        break;
      case 'task-failure':
        fault(`fail a task on ${process.name}`, () => {
          const te = cluster.taskExecutors.find((t) => t.name === process.name) ?? rng.pick(cluster.taskExecutors);
          te.runtime?.failOne();
        });
        break;
    }
  }
  return quietFrom;
}
