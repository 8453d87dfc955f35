/**
 * `flinkish logs ROLE|PID`: the log of a process of the local cluster, from the files that
 * `cluster start` records in cluster.json. A role names one process (`master-2`), a kind names
 * all of its kind (`master`, `taskexecutor`, `etcd`), merged in time order with the role in
 * front of each line; a PID names the process that has it.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { ErrorCode, RuntimeError } from '../../lib/errors.js';
import type { LocalClusterState } from '../local-cluster.js';
import { pauseUnlessAborted } from '../support/wait.js';

type ClusterProcess = LocalClusterState['processes'][number];

/** The processes `which` names; a clear error listing what there is when it names none. */
export function selectProcesses(state: LocalClusterState, which: string): ClusterProcess[] {
  const byPid = /^\d+$/.test(which) ? state.processes.filter((p) => p.pid === Number(which)) : [];
  const byRole = state.processes.filter((p) => p.role === which);
  const byKind = state.processes.filter((p) => p.role.startsWith(`${which}-`));
  const found = byPid.length > 0 ? byPid : byRole.length > 0 ? byRole : byKind;
  if (found.length === 0) {
    const known = state.processes.map((p) => `${p.role} (pid ${p.pid})`).join(', ');
    throw new RuntimeError(ErrorCode.InvalidArgument, `no process '${which}' in the local cluster (${state.file}); it has: ${known}; or name a kind: master, taskexecutor, etcd`, {
      details: { which },
    });
  }
  return found;
}

/** The lines of `processes`' logs, the last `tail` (all when undefined); several are merged by time and labelled. */
export function readLogs(processes: ClusterProcess[], tail?: number): string[] {
  const labelled = processes.length > 1;
  const entries = processes.flatMap((p) => linesOf(p.log).map((line, i) => ({ role: p.role, line, time: timeOf(line), i })));
  // Lines without a time (a process's own stdout) keep their place after the line before them.
  if (labelled) entries.sort((a, b) => (a.time ?? 0) - (b.time ?? 0) || (a.role === b.role ? a.i - b.i : 0));
  const lines = entries.map((e) => (labelled ? `${e.role}: ${e.line}` : e.line));
  return tail === undefined ? lines : lines.slice(-tail);
}

function linesOf(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
}

function timeOf(line: string): number | null {
  const m = /"time":(\d+)/.exec(line);
  return m ? Number(m[1]) : null;
}

/**
 * Print what the processes' logs gain from now on until `signal` aborts; polls, so that it
 * works for files that a restart replaces too (a shorter file is read from its start).
 */
export async function followLogs(processes: ClusterProcess[], write: (line: string) => void, signal: AbortSignal, pollMs = 250): Promise<void> {
  const labelled = processes.length > 1;
  const offsets = new Map(processes.map((p) => [p.log, existsSync(p.log) ? statSync(p.log).size : 0]));
  const partial = new Map<string, string>();
  while (!signal.aborted) {
    await pauseUnlessAborted(pollMs, signal);
    for (const p of processes) {
      if (!existsSync(p.log)) continue;
      const size = statSync(p.log).size;
      let from = offsets.get(p.log) ?? 0;
      if (size < from) from = 0;
      if (size === from) continue;
      const buffer = Buffer.alloc(size - from);
      const fd = openSync(p.log, 'r');
      try {
        readSync(fd, buffer, 0, buffer.length, from);
      } finally {
        closeSync(fd);
      }
      offsets.set(p.log, size);
      const text = (partial.get(p.log) ?? '') + buffer.toString('utf8');
      const lines = text.split('\n');
      partial.set(p.log, lines.pop()!);
      for (const line of lines) if (line !== '') write(labelled ? `${p.role}: ${line}` : line);
    }
  }
}
