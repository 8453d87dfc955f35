/**
 * The simulated etcd: the HA services' in-memory stores (lib/ha/in-memory.ts) behind a server
 * that runs on the simulated clock. Requests and responses cross the simulated network (a cut
 * between a node and 'etcd' loses them; the client times out), each write is applied at one
 * instant as a guarded transaction (it lands only while the writer's session holds the leader
 * key), leases expire unless kept alive, watches are delivered late (and sometimes very late),
 * and the whole service can be unavailable.
 *
 * The Masters' election (SimElection) steps down before its lease can expire, like the real
 * one (lib/ha/etcd-election.ts); TaskExecutors follow the leader through SimRetrieval.
 */
import { FencingError, HaUnavailableError } from '../ha/errors.js';
import {
  InMemoryCheckpointIdCounter,
  InMemoryCompletedCheckpointStore,
  InMemoryJobGraphStore,
  InMemoryJobResultStore,
  InMemorySavepointStore,
  InMemorySinkClaimStore,
} from '../ha/in-memory.js';
import type { LeaderContender, LeaderElection, LeaderGuard, LeaderInfo, LeaderListener, LeaderRetrieval } from '../ha/types.js';
import type { LeaderStores } from '../../actors/master/ha.js';
import type { Rng } from './rng.js';
import type { Scheduler, SimEvent, SimNode } from './scheduler.js';
import type { SimNetwork } from './network.js';
import type { TimerHandle } from '../util/clock.js';

export const ETCD = 'etcd';

export interface EtcdSettings {
  leaseTtlMs: number;
  /** A Master steps down this long before its lease could expire. */
  stepDownMarginMs: number;
  requestTimeoutMs: number;
  minWatchDelayMs: number;
  maxWatchDelayMs: number;
  /** Chance that a watch event is very late (up to lateWatchMs). */
  lateWatchChance: number;
  lateWatchMs: number;
}

/** Safety mechanisms a mutant turns off (see lib/sim/mutants.ts). */
export interface EtcdMutants {
  /** Writes are not guarded: neither the writer's lease check nor etcd's compare on the leader key. */
  noWriteGuard: boolean;
  /** A Master keeps leading until etcd tells it otherwise, past its lease's possible expiry. */
  noStepDown: boolean;
}

/** An accepted guarded write, for the fenced-action audit. */
export interface AcceptedWrite {
  at: number;
  sessionId: string;
  /** The session that held the leader key when it was applied (null: none). */
  leaderSessionId: string | null;
}

interface Lease {
  id: number;
  expiry: SimEvent;
}

interface Watcher {
  node: SimNode;
  incarnation: number;
  nodeId: string;
  lastArrival: number;
  onChange: (leader: LeaderInfo | null) => void;
}

const WRITES = new Set([
  'jobGraphs.put',
  'jobGraphs.remove',
  'jobGraphs.putExecution',
  'jobResults.put',
  'checkpoints.add',
  'checkpoints.removeJob',
  'checkpointIds.getAndIncrement',
  'savepoints.begin',
  'savepoints.complete',
  'savepoints.fail',
  'savepoints.removeStopIntent',
  'sinkClaims.claim',
  'sinkClaims.release',
]);

export class SimEtcd {
  private isAvailable = true;
  /** Requests that reached etcd while it was unavailable: applied, in order, when it is back (a stalled member's queue). */
  private stalled: Array<() => void> = [];
  private revision = 0;
  private nextLease = 1;
  private readonly leases = new Map<number, Lease>();
  private leader: (LeaderInfo & { simLease: number }) | null = null;
  private readonly watchers: Watcher[] = [];
  /** The session whose write is being applied (writes are applied synchronously, one at a time). */
  private caller: string | null = null;
  private bootstrapping = false;
  readonly writes: AcceptedWrite[] = [];
  private readonly serverGuard: LeaderGuard;
  readonly jobGraphs: InMemoryJobGraphStore;
  readonly jobResults: InMemoryJobResultStore;
  readonly checkpointIds: InMemoryCheckpointIdCounter;
  readonly savepoints: InMemorySavepointStore;
  readonly sinkClaims: InMemorySinkClaimStore;
  private readonly checkpointStores = new Map<number, InMemoryCompletedCheckpointStore>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly network: SimNetwork,
    private readonly rng: Rng,
    readonly settings: EtcdSettings,
    readonly mutants: EtcdMutants,
  ) {
    this.serverGuard = {
      sessionId: 'etcd',
      check: () => {
        if (this.bootstrapping) return;
        const caller = this.caller ?? 'none';
        // The guarded transaction's compare: the leader key still holds the writer's session.
        if (!this.mutants.noWriteGuard && this.leader?.sessionId !== caller) throw new FencingError(caller, 'rejected-by-etcd');
        this.writes.push({ at: this.scheduler.elapsed, sessionId: caller, leaderSessionId: this.leader?.sessionId ?? null });
      },
    };
    this.jobGraphs = new InMemoryJobGraphStore(this.serverGuard);
    this.jobResults = new InMemoryJobResultStore(this.serverGuard);
    this.checkpointIds = new InMemoryCheckpointIdCounter(this.serverGuard);
    this.savepoints = new InMemorySavepointStore(this.serverGuard);
    this.sinkClaims = new InMemorySinkClaimStore(this.serverGuard, () => this.scheduler.now);
  }

  get available(): boolean {
    return this.isAvailable;
  }

  /**
   * Unavailable: requests get no answer (their clients time out), but those that reached it are
   * applied when it is back, late: a write whose client gave up may land all the same.
   */
  set available(available: boolean) {
    this.isAvailable = available;
    if (!available) return;
    const stalled = this.stalled;
    this.stalled = [];
    for (const apply of stalled) apply();
  }

  /** Run `apply` now, or once etcd is available again. */
  whenAvailable(apply: () => void): void {
    if (this.isAvailable) apply();
    else this.stalled.push(apply);
  }

  checkpoints(retain: number): InMemoryCompletedCheckpointStore {
    let store = this.checkpointStores.get(retain);
    if (!store) this.checkpointStores.set(retain, (store = new InMemoryCompletedCheckpointStore(this.serverGuard, retain)));
    return store;
  }

  /** Latest completed checkpoint id of `jobId` in any checkpoint store, or 0. */
  async latestCheckpoint(jobId: string): Promise<number> {
    let latest = 0;
    for (const store of this.checkpointStores.values()) latest = Math.max(latest, (await store.latest(jobId))?.checkpointId ?? 0);
    return latest;
  }

  /** State written before the cluster starts (a job submitted earlier), unguarded. */
  async bootstrap(write: () => Promise<void>): Promise<void> {
    this.bootstrapping = true;
    try {
      await write();
    } finally {
      this.bootstrapping = false;
    }
  }

  get currentLeader(): LeaderInfo | null {
    return this.leader && { address: this.leader.address, sessionId: this.leader.sessionId };
  }

  client(node: SimNode, nodeId: string): EtcdClient {
    return new EtcdClient(this, this.scheduler, this.network, node, nodeId);
  }

  /** Apply `fn` as the write (or read) of `sessionId`'s term. */
  applyAs<T>(sessionId: string | null, fn: () => T): T {
    this.caller = sessionId;
    try {
      return fn();
    } finally {
      this.caller = null;
    }
  }

  // ---- leases and the leader key (server side, applied at one instant) ----

  grantLease(): number {
    const id = this.nextLease++;
    this.leases.set(id, { id, expiry: this.armExpiry(id) });
    return id;
  }

  keepAlive(id: number): boolean {
    const lease = this.leases.get(id);
    if (!lease) return false;
    lease.expiry.cancelled = true;
    lease.expiry = this.armExpiry(id);
    return true;
  }

  revokeLease(id: number): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    lease.expiry.cancelled = true;
    this.leases.delete(id);
    if (this.leader?.simLease === id) this.setLeader(null);
  }

  /** Create the leader key under `leaseId` if there is none: the new session id, or null. */
  acquire(leaseId: number, address: string): string | null {
    // Under the same lease it is ours already (an earlier campaign's answer was lost): idempotent.
    if (this.leader?.simLease === leaseId) return this.leader.sessionId;
    if (this.leader !== null || !this.leases.has(leaseId)) return null;
    this.revision++;
    const sessionId = String(this.revision).padStart(20, '0');
    this.setLeader({ address, sessionId, simLease: leaseId });
    return sessionId;
  }

  resign(sessionId: string): void {
    if (this.leader?.sessionId === sessionId) this.setLeader(null);
  }

  watch(node: SimNode, nodeId: string, onChange: (leader: LeaderInfo | null) => void): void {
    this.watchers.push({ node, incarnation: node.incarnation, nodeId, lastArrival: 0, onChange });
  }

  private armExpiry(id: number): SimEvent {
    return this.scheduler.schedule(this.settings.leaseTtlMs, `etcd lease ${id} expired`, () => this.revokeLease(id));
  }

  private setLeader(leader: (LeaderInfo & { simLease: number }) | null): void {
    this.leader = leader;
    const info = this.currentLeader;
    for (let i = this.watchers.length - 1; i >= 0; i--) {
      const w = this.watchers[i]!;
      if (w.node.incarnation !== w.incarnation) {
        this.watchers.splice(i, 1);
        continue;
      }
      if (!this.network.canReach(ETCD, w.nodeId)) continue; // its watch stream is down: it polls
      const late = this.rng.chance(this.settings.lateWatchChance);
      const delay = late ? this.rng.int(this.settings.maxWatchDelayMs, this.settings.lateWatchMs) : this.rng.int(this.settings.minWatchDelayMs, this.settings.maxWatchDelayMs);
      const arrival = Math.max(this.scheduler.now + delay, w.lastArrival);
      w.lastArrival = arrival;
      this.scheduler.schedule(arrival - this.scheduler.now, `${w.node.name} watch: leader ${info ? Number(info.sessionId) : 'none'}`, () => w.onChange(info), w.node);
    }
  }

  /** The stores a Master's term writes through: every write guarded by `guard`, on its side and on etcd's. */
  storesFor(client: EtcdClient, guard: LeaderGuard): LeaderStores {
    const wrap = <T extends object>(name: string, target: T): T =>
      new Proxy(target, {
        get: (obj, key, receiver) => {
          const value = Reflect.get(obj, key, receiver) as unknown;
          if (typeof value !== 'function' || typeof key !== 'string') return value;
          const op = `${name}.${key}`;
          const write = WRITES.has(op);
          return (...args: unknown[]) => {
            if (write && !this.mutants.noWriteGuard) {
              try {
                guard.check();
              } catch (err) {
                return Promise.reject(err);
              }
            }
            return client.call(op, () => this.applyAs(write ? guard.sessionId : null, () => (value as (...a: unknown[]) => unknown).apply(obj, args)));
          };
        },
      });
    return {
      guard,
      jobGraphs: wrap('jobGraphs', this.jobGraphs),
      jobResults: wrap('jobResults', this.jobResults),
      checkpoints: (retain) => wrap('checkpoints', this.checkpoints(retain)),
      checkpointIds: wrap('checkpointIds', this.checkpointIds),
      savepoints: wrap('savepoints', this.savepoints),
      sinkClaims: wrap('sinkClaims', this.sinkClaims),
    };
  }
}

/** One node's connection to etcd: requests cross the simulated network and time out. */
export class EtcdClient {
  /** The process incarnation this connection belongs to: a crashed process sends nothing more. */
  private readonly incarnation: number;

  constructor(
    private readonly etcd: SimEtcd,
    private readonly scheduler: Scheduler,
    private readonly network: SimNetwork,
    readonly node: SimNode,
    readonly nodeId: string,
  ) {
    this.incarnation = node.incarnation;
  }

  call<T>(op: string, fn: () => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.node.incarnation !== this.incarnation || this.node.crashed) return;
      let settled = false;
      const timeout = this.scheduler.schedule(
        this.etcd.settings.requestTimeoutMs,
        null,
        () => {
          if (settled) return;
          settled = true;
          reject(new HaUnavailableError(op, new Error(`no answer within ${this.etcd.settings.requestTimeoutMs} ms`)));
        },
        this.node,
      );
      if (!this.network.canReach(this.nodeId, ETCD)) return;
      const apply = () => {
        let outcome: Promise<{ ok: true; value: T } | { ok: false; error: unknown }>;
        try {
          outcome = Promise.resolve(fn()).then(
            (value) => ({ ok: true as const, value }),
            (error: unknown) => ({ ok: false as const, error }),
          );
        } catch (error) {
          outcome = Promise.resolve({ ok: false as const, error });
        }
        void outcome.then((result) => {
          if (!this.network.canReach(ETCD, this.nodeId)) return;
          this.scheduler.schedule(
            this.network.latency(),
            null,
            () => {
              if (settled) return;
              settled = true;
              timeout.cancelled = true;
              if (result.ok) resolve(result.value);
              else reject(result.error);
            },
            this.node,
          );
        });
      };
      this.scheduler.schedule(this.network.latency(), `etcd ${op} from ${this.node.name}`, () => this.etcd.whenAvailable(apply));
    });
  }
}

/** A Master's candidacy: a lease kept alive, the leader key when free, a step-down before the lease can lapse. */
export class SimElection implements LeaderElection {
  private contender: LeaderContender | null = null;
  private address = '';
  private leaseId: number | null = null;
  /** When the last keepalive that etcd confirmed was sent: the lease lives at least until then + TTL. */
  private confirmedAt = 0;
  private leading = false;
  private sessionId = '';
  private term = 0;
  private stopped = false;
  private stepDownTimer: TimerHandle | null = null;

  constructor(
    private readonly etcd: SimEtcd,
    private readonly client: EtcdClient,
  ) {}

  private get clock() {
    return this.client.node.clock;
  }

  private get settings(): EtcdSettings {
    return this.etcd.settings;
  }

  campaign(contender: LeaderContender, address: string): void {
    this.contender = contender;
    this.address = address;
    this.etcd.watch(this.client.node, this.client.nodeId, (leader) => {
      if (this.leading && leader?.sessionId !== this.sessionId) this.stepDown('another leader holds the key');
      if (leader === null) this.tryAcquire();
    });
    this.obtainLease();
    const retry = () => {
      if (this.stopped) return;
      this.tryAcquire();
      this.clock.setTimeout(retry, this.settings.leaseTtlMs);
    };
    this.clock.setTimeout(retry, this.settings.leaseTtlMs);
  }

  /** Whether this Master may act as leader now, by its own reckoning (what its stores' guard checks). */
  leadsNow(): boolean {
    return this.leading && (this.etcd.mutants.noStepDown || this.clock.now() < this.deadline);
  }

  guard(): LeaderGuard | null {
    if (!this.leading) return null;
    const term = this.term;
    const sessionId = this.sessionId;
    return {
      sessionId,
      check: () => {
        if (!this.leading || this.term !== term) throw new FencingError(sessionId, 'not-leader');
        if (!this.etcd.mutants.noStepDown && this.clock.now() >= this.deadline) throw new FencingError(sessionId, 'lease-unconfirmed');
      },
    };
  }

  async resign(): Promise<void> {
    const sessionId = this.sessionId;
    this.stepDown('resigned', false);
    await this.client.call('election.resign', () => this.etcd.resign(sessionId)).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.stopped = true;
  }

  private get deadline(): number {
    return this.confirmedAt + this.settings.leaseTtlMs - this.settings.stepDownMarginMs;
  }

  private obtainLease(): void {
    if (this.stopped) return;
    const sentAt = this.clock.now();
    this.client.call('lease.grant', () => this.etcd.grantLease()).then(
      (id) => {
        this.leaseId = id;
        this.confirmedAt = sentAt;
        this.tryAcquire();
        this.keepAlive(id);
      },
      () => this.clock.setTimeout(() => this.obtainLease(), this.settings.leaseTtlMs / 6),
    );
  }

  private keepAlive(id: number): void {
    this.clock.setTimeout(() => {
      if (this.stopped || this.leaseId !== id) return;
      const sentAt = this.clock.now();
      this.client.call('lease.keepalive', () => this.etcd.keepAlive(id)).then(
        (alive) => {
          if (this.leaseId !== id) return;
          if (alive) {
            this.confirmedAt = Math.max(this.confirmedAt, sentAt);
            if (this.leading) this.armStepDown();
            return;
          }
          this.stepDown('the lease expired');
          this.leaseId = null;
          this.obtainLease();
        },
        () => undefined, // unconfirmed: the step-down timer decides
      );
      this.keepAlive(id);
    }, this.settings.leaseTtlMs / 3);
  }

  private tryAcquire(): void {
    const leaseId = this.leaseId;
    if (this.stopped || this.leading || leaseId === null) return;
    this.client.call('election.campaign', () => this.etcd.acquire(leaseId, this.address)).then(
      (sessionId) => {
        if (sessionId === null || this.leading || this.leaseId !== leaseId || this.stopped) return;
        this.leading = true;
        this.sessionId = sessionId;
        this.term++;
        this.armStepDown();
        if (!this.leadsNow()) return this.stepDown('the lease may have lapsed while campaigning');
        this.contender?.grantLeadership(sessionId);
      },
      () => undefined,
    );
  }

  private armStepDown(): void {
    if (this.etcd.mutants.noStepDown) return;
    if (this.stepDownTimer !== null) this.clock.clearTimeout(this.stepDownTimer);
    this.stepDownTimer = this.clock.setTimeout(() => {
      this.stepDownTimer = null;
      if (this.leading && this.clock.now() >= this.deadline) this.stepDown('lease unconfirmed: stepping down before it can expire');
    }, Math.max(0, this.deadline - this.clock.now()));
  }

  /** Leadership ends here; the lease is dropped so that the key (if still ours) goes at once or with the lease. */
  private stepDown(_why: string, renew = true): void {
    const wasLeading = this.leading;
    this.leading = false;
    if (this.stepDownTimer !== null) this.clock.clearTimeout(this.stepDownTimer);
    this.stepDownTimer = null;
    if (wasLeading) this.contender?.revokeLeadership();
    if (!wasLeading || !renew) return;
    const old = this.leaseId;
    this.leaseId = null;
    if (old !== null) void this.client.call('lease.revoke', () => this.etcd.revokeLease(old)).catch(() => undefined);
    this.obtainLease();
  }
}

/** Follows the leader key: watch events (late or lost) and a poll. */
export class SimRetrieval implements LeaderRetrieval {
  private last: LeaderInfo | null = null;
  private stopped = false;

  constructor(
    private readonly etcd: SimEtcd,
    private readonly client: EtcdClient,
    private readonly pollMs = 2000,
  ) {}

  start(listener: LeaderListener): void {
    const observe = (leader: LeaderInfo | null) => {
      if (this.stopped || leader?.sessionId === this.last?.sessionId) return;
      this.last = leader;
      listener(leader);
    };
    this.etcd.watch(this.client.node, this.client.nodeId, observe);
    const poll = () => {
      if (this.stopped) return;
      this.client.call('leader.get', () => this.etcd.currentLeader).then(observe, () => undefined);
      this.client.node.clock.setTimeout(poll, this.pollMs);
    };
    poll();
  }

  current(): LeaderInfo | null {
    return this.last;
  }

  async close(): Promise<void> {
    this.stopped = true;
  }
}
