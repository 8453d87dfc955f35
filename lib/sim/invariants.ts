/**
 * The invariants, checked after every step of a simulation (and the liveness one at its end):
 *
 * - one leader: at most one Master whose own guard lets it act as leader, at any instant, and
 *   etcd applies a leader's write only while its session holds the leader key (the audit of
 *   fenced actions);
 * - fencing: no component accepts a command of a leader session older than one it accepted
 *   (TaskExecutors, from the commands their machines take; etcd, from the writes it applies);
 * - exactly once: no record committed twice, and all of them once the job has finished;
 * - checkpoints: the latest completed checkpoint id never decreases, and no deployment
 *   restores from before a checkpoint whose transactions a sink already committed;
 * - a finished job never runs again;
 * - no ask stays unanswered past its timeout;
 * - liveness: once the faults stop, the job is running or ended within a bound.
 */
import type { InspectionEvent } from 'xstate';
import type { TaskDeploymentDescriptor } from '../task/descriptor.js';
import { JOB_ID, type ClusterAudit, type SimCluster } from './cluster.js';
import { REFUSE_SESSION } from '../../actors/taskexecutor/machine.js';

export interface Violation {
  /** Simulated ms since the start. */
  at: number;
  invariant: string;
  message: string;
}

export class InvariantChecker implements ClusterAudit {
  readonly violations: Violation[] = [];
  private cluster: SimCluster | null = null;
  private readonly acceptedSession = new Map<string, string>();
  private writesSeen = 0;
  private latestWriteSession = '';
  private latestCheckpoint = 0;
  private dataflowViolationsSeen = 0;
  /** Set once the job's result is in etcd. */
  jobResult: string | null = null;

  attach(cluster: SimCluster): void {
    this.cluster = cluster;
  }

  private get now(): number {
    return this.cluster?.scheduler.elapsed ?? 0;
  }

  private violate(invariant: string, message: string): void {
    this.violations.push({ at: this.now, invariant, message });
  }

  inspected(component: string, event: InspectionEvent): void {
    if (event.type !== '@xstate.microstep' || !component.endsWith('/taskexecutor')) return;
    const command = event.event as { type: string; leaderSessionId?: unknown };
    if (typeof command.leaderSessionId !== 'string') return;
    // Accepted: a transition for the command was taken, and it is not the refusal of its session.
    const taken = event._transitions.filter((t) => t.eventType === command.type);
    if (taken.length === 0 || taken.some((t) => t.actions.some((action) => action === REFUSE_SESSION))) return;
    const newest = this.acceptedSession.get(component);
    if (newest !== undefined && command.leaderSessionId < newest) {
      this.violate('fencing', `${component} accepted ${command.type} of leader session ${Number(command.leaderSessionId)} after one of session ${Number(newest)}`);
    } else this.acceptedSession.set(component, command.leaderSessionId);
  }

  failed(why: string): void {
    this.violate('simulator', why);
  }

  deployed(tdd: TaskDeploymentDescriptor): void {
    const dataflow = this.cluster!.dataflow;
    if (this.jobResult !== null) this.violate('finished-job', `${tdd.executionId} deployed after the job ended ${this.jobResult}`);
    const committed = dataflow.committedCheckpoint.get(tdd.jobId) ?? 0;
    const from = tdd.restore?.checkpointId ?? 0;
    if (from < committed) {
      this.violate('checkpoint-lost', `${tdd.executionId} restores from ${from === 0 ? 'nothing' : `checkpoint ${from}`}, but checkpoint ${committed} completed and its transactions are committed`);
    }
  }

  /** After every step. */
  async check(): Promise<void> {
    const cluster = this.cluster!;
    const leaders = cluster.masters.filter((m) => m.election?.leadsNow() && !m.node.crashed);
    if (leaders.length > 1) this.violate('one-leader', `${leaders.map((m) => m.name).join(' and ')} both act as leader`);

    const writes = cluster.etcd.writes;
    for (; this.writesSeen < writes.length; this.writesSeen++) {
      const write = writes[this.writesSeen]!;
      if (write.sessionId !== write.leaderSessionId) {
        const holder = write.leaderSessionId === null ? 'while nobody held the leader key' : `while session ${Number(write.leaderSessionId)} held the leader key`;
        this.violate('one-leader', `etcd applied a write of leader session ${Number(write.sessionId)} ${holder}`);
      } else if (write.sessionId < this.latestWriteSession) {
        this.violate('fencing', `etcd applied a write of leader session ${Number(write.sessionId)} after one of session ${Number(this.latestWriteSession)}`);
      } else this.latestWriteSession = write.sessionId;
    }
    if (writes.length > 0 || this.jobResult === null) await this.checkStores();

    const dataflow = cluster.dataflow;
    for (; this.dataflowViolationsSeen < dataflow.violations.length; this.dataflowViolationsSeen++) this.violate('exactly-once', dataflow.violations[this.dataflowViolationsSeen]!);

    const now = cluster.scheduler.now;
    for (const p of cluster.processes) {
      if (!p.system || !p.node.running || p.node.catchingUp > 0) continue;
      const overdue = p.system.overdueAsks(now);
      if (overdue > 0) this.violate('ask-timeout', `${p.name} has ${overdue} asks unanswered past their timeout`);
    }
  }

  private lastWritesChecked = -1;

  private async checkStores(): Promise<void> {
    const etcd = this.cluster!.etcd;
    if (etcd.writes.length === this.lastWritesChecked) return;
    this.lastWritesChecked = etcd.writes.length;
    if (this.jobResult === null) {
      const result = await etcd.jobResults.get(JOB_ID);
      if (result) {
        this.jobResult = result.state;
        if (result.state === 'finished') {
          const missing = this.cluster!.dataflow.missingRecords();
          if (missing.length > 0) this.violate('exactly-once', `the job finished with ${missing.length} records never committed (first: ${missing.slice(0, 5).join(', ')})`);
        }
        return;
      }
    }
    if (this.jobResult !== null) return; // its checkpoints are removed with it
    const latest = await etcd.latestCheckpoint(JOB_ID);
    if (latest < this.latestCheckpoint) this.violate('checkpoint-lost', `the latest completed checkpoint went from ${this.latestCheckpoint} back to ${latest}`);
    else this.latestCheckpoint = latest;
  }

  /** At the end of a run: the job is running or has ended. */
  checkLiveness(boundMs: number): void {
    if (this.jobResult !== null) return;
    const cluster = this.cluster!;
    const running = cluster.masters.some((m) => {
      if (!m.system || !m.election?.leadsNow()) return false;
      const snapshot = m.system.snapshotOf(m.system.ref(m.system.node, `jobmaster-${JOB_ID}`)) as { value?: unknown } | undefined;
      const value = snapshot?.value;
      return value !== undefined && (value === 'running' || (typeof value === 'object' && value !== null && 'running' in value));
    });
    if (!running) this.violate('liveness', `the job is neither running nor ended ${boundMs} ms after the last fault`);
  }
}
