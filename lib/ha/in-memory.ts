/**
 * In-memory HA services for unit tests of pure logic only (a test drives leadership by
 * hand). Never a stand-in for etcd in integration tests, scripts or the demo.
 */
import { FencingError, SinkDirOwnedError } from './errors.js';
import { SavepointState, type SavepointRecord, type SavepointStore, type StopIntent } from './etcd-savepoints.js';
import { normalizeSinkDir, type SinkClaim, type SinkClaimStore } from './etcd-sink-claims.js';
import { retainLatest } from './checkpoint-retention.js';
import { realClock } from '../util/clock.js';
import type {
  CheckpointIdCounter,
  CheckpointMetadata,
  CompletedCheckpointStore,
  JobExecution,
  JobGraphStore,
  JobResult,
  JobResultStore,
  LeaderContender,
  LeaderElection,
  LeaderGuard,
} from './types.js';

/**
 * @example
 * ```ts
 * const election = new InMemoryLeaderElection();
 * election.campaign(contender, 'addr');
 * election.grant();   // contender.grantLeadership('00000000000000000001')
 * election.revoke();  // contender.revokeLeadership(); old guards now throw FencingError
 * ```
 */
export class InMemoryLeaderElection implements LeaderElection {
  private contender: LeaderContender | null = null;
  private term = 0;
  private leading = false;

  campaign(contender: LeaderContender): void {
    this.contender = contender;
  }

  /** Make the contender leader of a new term. */
  grant(): string {
    this.term += 1;
    this.leading = true;
    const sessionId = String(this.term).padStart(20, '0');
    this.contender?.grantLeadership(sessionId);
    return sessionId;
  }

  revoke(): void {
    if (!this.leading) return;
    this.leading = false;
    this.contender?.revokeLeadership();
  }

  guard(): LeaderGuard | null {
    if (!this.leading) return null;
    const term = this.term;
    const sessionId = String(term).padStart(20, '0');
    return {
      sessionId,
      check: () => {
        if (!this.leading || this.term !== term) throw new FencingError(sessionId, 'not-leader');
      },
    };
  }

  async resign(): Promise<void> {
    this.revoke();
    this.contender = null;
  }

  async close(): Promise<void> {
    this.revoke();
  }
}

function checked(guard: LeaderGuard | null): void {
  if (guard === null) throw new FencingError('none', 'not-leader');
  guard.check();
}

export class InMemoryJobGraphStore implements JobGraphStore {
  private readonly graphs = new Map<string, unknown>();
  private readonly executions = new Map<string, JobExecution>();
  constructor(private readonly guard: LeaderGuard | null) {}
  async put(jobId: string, graph: unknown): Promise<void> {
    checked(this.guard);
    this.graphs.set(jobId, structuredClone(graph));
  }
  async get(jobId: string): Promise<unknown | undefined> {
    return structuredClone(this.graphs.get(jobId));
  }
  async remove(jobId: string): Promise<void> {
    checked(this.guard);
    this.graphs.delete(jobId);
    this.executions.delete(jobId);
  }
  async list(): Promise<string[]> {
    return [...this.graphs.keys()];
  }
  async putExecution(jobId: string, execution: JobExecution): Promise<void> {
    checked(this.guard);
    this.executions.set(jobId, { ...execution });
  }
  async getExecution(jobId: string): Promise<JobExecution | undefined> {
    const execution = this.executions.get(jobId);
    return execution && { ...execution };
  }
}

export class InMemoryJobResultStore implements JobResultStore {
  private readonly results = new Map<string, JobResult>();
  constructor(private readonly guard: LeaderGuard | null) {}
  async put(result: JobResult): Promise<void> {
    checked(this.guard);
    this.results.set(result.jobId, structuredClone(result));
  }
  async get(jobId: string): Promise<JobResult | undefined> {
    return structuredClone(this.results.get(jobId));
  }
  async has(jobId: string): Promise<boolean> {
    return this.results.has(jobId);
  }
  async list(): Promise<JobResult[]> {
    return [...this.results.values()].map((r) => structuredClone(r));
  }
}

export class InMemoryCompletedCheckpointStore implements CompletedCheckpointStore {
  private readonly jobs = new Map<string, CheckpointMetadata[]>();
  constructor(
    private readonly guard: LeaderGuard | null,
    private readonly retain = 1,
  ) {}
  async add(jobId: string, checkpoint: CheckpointMetadata): Promise<CheckpointMetadata[]> {
    checked(this.guard);
    const { kept, subsumed } = retainLatest(this.jobs.get(jobId) ?? [], structuredClone(checkpoint), this.retain);
    this.jobs.set(jobId, kept);
    return subsumed;
  }
  async latest(jobId: string): Promise<CheckpointMetadata | undefined> {
    return this.jobs.get(jobId)?.at(-1);
  }
  async list(jobId: string): Promise<CheckpointMetadata[]> {
    return [...(this.jobs.get(jobId) ?? [])];
  }
  async removeJob(jobId: string): Promise<CheckpointMetadata[]> {
    checked(this.guard);
    const removed = this.jobs.get(jobId) ?? [];
    this.jobs.delete(jobId);
    return removed;
  }
}

export class InMemoryCheckpointIdCounter implements CheckpointIdCounter {
  private readonly next = new Map<string, number>();
  constructor(private readonly guard: LeaderGuard | null) {}
  async getAndIncrement(jobId: string): Promise<number> {
    checked(this.guard);
    const id = this.next.get(jobId) ?? 1;
    this.next.set(jobId, id + 1);
    return id;
  }
  async get(jobId: string): Promise<number> {
    return this.next.get(jobId) ?? 1;
  }
}

export class InMemorySavepointStore implements SavepointStore {
  private readonly records = new Map<string, SavepointRecord>();
  private readonly intents = new Map<string, StopIntent>();
  constructor(private readonly guard: LeaderGuard | null) {}
  async begin(record: SavepointRecord): Promise<void> {
    checked(this.guard);
    this.records.set(keyOf(record), { ...record });
  }
  async complete(record: SavepointRecord, now: number): Promise<SavepointRecord> {
    checked(this.guard);
    const done: SavepointRecord = { ...record, state: SavepointState.Completed, endedAt: now };
    this.records.set(keyOf(done), done);
    if (record.stop) this.intents.set(record.jobId, { jobId: record.jobId, savepointPath: record.path, checkpointId: record.checkpointId, recordedAt: now });
    return { ...done };
  }
  async fail(record: SavepointRecord, reason: string, now: number): Promise<SavepointRecord> {
    checked(this.guard);
    const failed: SavepointRecord = { ...record, state: SavepointState.Failed, endedAt: now, failure: reason };
    this.records.set(keyOf(failed), failed);
    if (record.stop && this.intents.get(record.jobId)?.checkpointId === record.checkpointId) this.intents.delete(record.jobId);
    return { ...failed };
  }
  async list(jobId: string): Promise<SavepointRecord[]> {
    return (await this.listAll()).filter((r) => r.jobId === jobId);
  }
  async listAll(): Promise<SavepointRecord[]> {
    return [...this.records.values()].map((r) => ({ ...r })).sort((a, b) => a.jobId.localeCompare(b.jobId) || a.checkpointId - b.checkpointId);
  }
  async stopIntent(jobId: string): Promise<StopIntent | undefined> {
    const intent = this.intents.get(jobId);
    return intent && { ...intent };
  }
  async stopIntents(): Promise<StopIntent[]> {
    return [...this.intents.values()].map((i) => ({ ...i }));
  }
  async removeStopIntent(jobId: string): Promise<void> {
    checked(this.guard);
    this.intents.delete(jobId);
  }
}

function keyOf(record: SavepointRecord): string {
  return `${record.jobId}/${record.checkpointId}`;
}

export class InMemorySinkClaimStore implements SinkClaimStore {
  private readonly claims = new Map<string, SinkClaim>();
  constructor(
    private readonly guard: LeaderGuard | null,
    private readonly now: () => number = realClock.now,
  ) {}
  async claim(dirs: readonly string[], jobId: string, mayTakeOver: (owner: string) => Promise<boolean>): Promise<void> {
    const unique = [...new Set(dirs.map(normalizeSinkDir))];
    for (const dir of unique) {
      const owner = this.claims.get(dir)?.jobId;
      if (owner !== undefined && owner !== jobId && !(await mayTakeOver(owner))) throw new SinkDirOwnedError(dir, owner);
    }
    checked(this.guard);
    const claimedAt = this.now();
    for (const dir of unique) this.claims.set(dir, { dir, jobId, claimedAt });
  }
  async release(jobId: string): Promise<void> {
    checked(this.guard);
    for (const [dir, claim] of this.claims) if (claim.jobId === jobId) this.claims.delete(dir);
  }
  async list(): Promise<SinkClaim[]> {
    return [...this.claims.values()].map((c) => ({ ...c }));
  }
}
