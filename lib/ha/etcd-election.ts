/**
 * Leader election over etcd, with the leader's own lease clock as a safety net.
 *
 * Protocol (as etcd's `concurrency.Election`, one key per candidacy):
 * 1. **granting**: grant a lease of `leaseTtlSeconds` (etcd may round it up to its minimum;
 *    the granted TTL is used). Note the local time *before* the request: the lease cannot
 *    expire on the server earlier than that time + TTL.
 * 2. **registering**: create `leader/<leaseId>` = address, attached to the lease, in a
 *    transaction `if create_revision == 0`. Its create revision R is the candidacy's id.
 * 3. **waiting**: the leader is the key under `leader/` with the lowest create revision.
 *    Keys created later have higher revisions, so a key that is lowest stays lowest until
 *    it is deleted: "my key exists with revision R" is exactly "I lead", and that is the
 *    comparison every guarded write makes (see fenced-txn.ts). Watch the prefix, re-check
 *    on each event and, while not leading, every TTL/10: a watch on a member that hangs hears
 *    nothing until gRPC's keepalive gives up on it (~10 s), and the lowest key may be gone.
 * 4. **leading**: `grantLeadership(sessionId)` with sessionId = R zero-padded to 20 digits,
 *    so that it compares as a string the way it does as a number; a later term always has
 *    a higher R (its key was created after, or existed below, the previous lowest key).
 * 5. **term over** (key deleted, keepalive answered TTL 0, or no keepalive confirmed for
 *    2/3 of the TTL): `revokeLeadership()` first, synchronously, then revoke the lease
 *    (best effort, hastens the handover) and start again at 1 after a backoff.
 *
 * Keepalives go every TTL/5, each as a fresh stream with a deadline of TTL/3; a confirmed
 * keepalive vouches for the lease until (its *send* time + TTL) on the server's side.
 * Revoking at 2/3 TTL after the last confirmed send leaves TTL/3 for clock-rate drift and
 * for the contender to stop. A paused process checks that window before any guarded write,
 * and etcd rejects the write anyway if the key is gone.
 * Every election call has a deadline of TTL/3 per attempt and the client passes over a member
 * that is not answering (etcd-host-health.ts): one hung member of three neither costs the leader
 * its lease window nor delays a standby's takeover.
 * `resign()` revokes the lease (the next contender takes over at once); `close()` only stops
 * renewing (the key expires after the TTL, as after a crash). A standby with proof that the
 * leader's process died ends that term at once with `revokeDeadTerm` (leader-death.ts).
 */
import type { IKeyValue, Namespace, Watcher } from 'etcd3';
import type { Logger } from '../logging.js';
import { FencingError, HaClosedError } from './errors.js';
import { attemptDeadline, etcdCall, HaKeys } from './etcd-client.js';
import type { EtcdLeaderGuard } from './fenced-txn.js';
import type { LeaderContender, LeaderElection, LeaderEndpoints, LeaderInfo } from './types.js';
import { monotonicClock, withDeadline, type Clock } from './util.js';
// gRPC deadlines are wall times: they read the real clock, whatever the election's clock.
import { every, realClock, type StopTimer, type TimerHandle } from '../util/clock.js';

/** Default lease TTL: etcd's minimum is 2 s with our launcher's 1 s election timeout. */
export const DEFAULT_LEASE_TTL_SECONDS = 3;

export interface EtcdLeaderElectionOptions {
  /** The cluster's root namespace: `client.namespace(haRoot(clusterId))`. */
  root: Namespace;
  leaseTtlSeconds?: number;
  clock?: Clock;
  log?: Logger;
}

/**
 * A leader key's value: the plain address, or JSON `{ address, rest }` when the contender
 * publishes endpoints (a Master's REST API), so that older readers of plain addresses and
 * contenders without endpoints (TaskExecutor-less tests, singletons) stay as they were.
 */
export function encodeLeaderRecord(address: string, endpoints?: LeaderEndpoints): string {
  if (!endpoints) return address;
  return JSON.stringify({ address, rest: endpoints.rest ?? null, ...(endpoints.instance ? { instance: endpoints.instance } : {}) });
}

export function decodeLeaderRecord(value: string, sessionId: string): LeaderInfo {
  if (value.startsWith('{')) {
    try {
      const record = JSON.parse(value) as { address?: unknown; rest?: unknown; instance?: unknown };
      if (typeof record.address === 'string') {
        const info: LeaderInfo = { address: record.address, sessionId, rest: typeof record.rest === 'string' ? record.rest : null };
        if (typeof record.instance === 'string' && record.instance.length > 0 && record.instance.length <= 256) info.instance = record.instance;
        return info;
      }
    } catch {
      // Not a record: an address that starts with '{' (none do) is taken as it is.
    }
  }
  return { address: value, sessionId };
}

/** The zero-padded session id of a leader key's create revision. */
export function sessionIdOf(createRevision: string): string {
  return createRevision.padStart(20, '0');
}

/** The create revision a session id was made of (sessionIdOf's inverse). */
function createRevisionOf(sessionId: string): string {
  return BigInt(sessionId).toString();
}

/** The key of the candidacy attached to lease `leaseId` (etcd's decimal id). */
function leaderKeyOf(leaseId: string): string {
  return `${HaKeys.leaderPrefix}${BigInt(leaseId).toString(16)}`;
}

/** What a standby's revocation of a dead term found: done by it, done already, or not dead after all. */
export const DeadTermRevocation = {
  /** Our guarded transaction deleted the dead term's key. */
  Revoked: 'revoked',
  /** That key no longer existed with that revision (another standby, or its lease, was first). */
  Gone: 'gone',
  /** Nothing to do: we do not campaign, or the term is our own. */
  NotApplicable: 'not-applicable',
} as const;
export type DeadTermRevocation = (typeof DeadTermRevocation)[keyof typeof DeadTermRevocation];

interface Term {
  leaseId: string;
  ttlMs: number;
  key: string;
  createRevision: string;
  sessionId: string;
  /** Local time at which the last confirmed keepalive (or the grant) was sent. */
  confirmedAt: number;
  leading: boolean;
  over: boolean;
  /** Stops each of the term's timers. */
  timers: StopTimer[];
  watcher: Promise<Watcher | null>;
  /** The newest leader read: its number and when it started (null once it settled). */
  readSeq: number;
  readStartedAt: number | null;
  /** The newest read whose answer was applied: an older one answering later is stale. */
  appliedSeq: number;
  evaluateAgain: boolean;
}

/**
 * Campaigns for leadership of one cluster.
 *
 * @example
 * ```ts
 * const election = new EtcdLeaderElection({ root: client.namespace(haRoot('c1')) });
 * election.campaign({
 *   grantLeadership: (sessionId) => master.lead(sessionId, election.guard()!),
 *   revokeLeadership: () => master.standBy(),
 * }, 'tcp://127.0.0.1:6123');
 * // on shutdown:
 * await election.resign();
 * await election.close();
 * ```
 */
export class EtcdLeaderElection implements LeaderElection {
  private readonly root: Namespace;
  private readonly ttlSeconds: number;
  private readonly clock: Clock;
  private readonly log: Logger | undefined;
  private contender: LeaderContender | null = null;
  private address = '';
  private endpoints: LeaderEndpoints | undefined;
  private campaigning = false;
  private closed = false;
  private term: Term | null = null;
  private retryDelayMs = 100;
  private retryTimer: TimerHandle | undefined;

  constructor(options: EtcdLeaderElectionOptions) {
    this.root = options.root;
    this.ttlSeconds = options.leaseTtlSeconds ?? DEFAULT_LEASE_TTL_SECONDS;
    this.clock = options.clock ?? monotonicClock;
    this.log = options.log;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 1) {
      throw new RangeError(`leaseTtlSeconds must be a positive integer, got ${this.ttlSeconds}`);
    }
  }

  campaign(contender: LeaderContender, address: string, endpoints?: LeaderEndpoints): void {
    if (this.closed) throw new HaClosedError('leader election');
    if (this.campaigning) throw new RangeError('already campaigning; resign first');
    this.contender = contender;
    this.address = address;
    this.endpoints = endpoints;
    this.campaigning = true;
    void this.startTerm();
  }

  guard(): EtcdLeaderGuard | null {
    const term = this.term;
    return term && term.leading ? this.guardOf(term) : null;
  }

  /** True while this contender leads (and its lease is vouched for). */
  isLeader(): boolean {
    return this.term?.leading === true;
  }

  async resign(): Promise<void> {
    this.campaigning = false;
    this.clearRetry();
    const term = this.term;
    if (term) await this.endTerm(term, 'resigned', true);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.campaigning = false;
    this.clearRetry();
    const term = this.term;
    if (term) await this.endTerm(term, 'closed', false);
  }

  /**
   * End the term of a leader whose process is proven dead (leader-death.ts): delete its key in a
   * transaction guarded on the exact term seen (the key of its lease, with its create revision),
   * then revoke its lease, and evaluate our own candidacy at once instead of after the lease.
   * A term that the guard does not match (a newer one, or one already gone) is left alone.
   *
   * Why a wrong proof costs availability, never safety: every write a leader makes compares its
   * key's create revision in etcd (fenced-txn.ts), so once the key is gone the old term cannot
   * write, alive or not; its own election sees the delete (watch or read) and steps down, and
   * TaskExecutors take the newer session's higher fencing token over its.
   */
  async revokeDeadTerm(dead: { sessionId: string; leaseId: string }): Promise<DeadTermRevocation> {
    const term = this.term;
    if (!this.campaigning || !term || term.over) return DeadTermRevocation.NotApplicable;
    const createRevision = createRevisionOf(dead.sessionId);
    if (createRevision === term.createRevision) return DeadTermRevocation.NotApplicable;
    const key = leaderKeyOf(dead.leaseId);
    const txn = await etcdCall('dead term revoke', () =>
      this.root.if(key, 'Create', '==', createRevision).then(this.root.delete().key(key)).options(this.callOptions()).commit(),
    );
    if (txn.succeeded) {
      this.log?.warn({ sessionId: dead.sessionId, key }, 'revoked the term of a leader proven dead');
      // The key is gone with the txn; the lease held nothing else of that term.
      void this.revokeLease(dead.leaseId);
    }
    if (!term.over) void this.evaluate(term, true);
    return txn.succeeded ? DeadTermRevocation.Revoked : DeadTermRevocation.Gone;
  }

  private async startTerm(): Promise<void> {
    if (!this.campaigning) return;
    const sentAt = this.clock.now();
    let leaseId: string | undefined;
    try {
      const grant = await etcdCall('lease grant', () => this.root.leaseClient.leaseGrant({ TTL: this.ttlSeconds, ID: 0 }, this.callOptions()));
      leaseId = grant.ID;
      const key = leaderKeyOf(leaseId);
      const put = await etcdCall('leader key create', () =>
        this.root.if(key, 'Create', '==', 0).then(this.root.put(key).value(encodeLeaderRecord(this.address, this.endpoints)).lease(grant.ID)).options(this.callOptions()).commit(),
      );
      if (!put.succeeded) throw new Error(`leader key ${key} exists already`);
      const term: Term = {
        leaseId,
        ttlMs: Number(grant.TTL) * 1000,
        key,
        createRevision: put.header.revision,
        sessionId: sessionIdOf(put.header.revision),
        confirmedAt: sentAt,
        leading: false,
        over: false,
        timers: [],
        watcher: Promise.resolve(null),
        readSeq: 0,
        readStartedAt: null,
        appliedSeq: 0,
        evaluateAgain: false,
      };
      if (!this.campaigning) {
        await this.revokeLease(leaseId);
        return;
      }
      this.term = term;
      this.retryDelayMs = 100;
      this.log?.debug({ key, createRevision: term.createRevision, ttlMs: term.ttlMs }, 'candidacy registered');
      term.timers.push(every(this.clock, term.ttlMs / 5, () => this.keepalive(term)));
      term.timers.push(every(this.clock, Math.max(20, term.ttlMs / 30), () => this.checkLease(term)));
      term.timers.push(every(this.clock, term.ttlMs / 10, () => !term.leading && void this.evaluate(term)));
      term.watcher = this.watch(term);
      await this.evaluate(term);
    } catch (err) {
      this.log?.warn({ err }, 'campaign attempt failed, retrying');
      if (leaseId !== undefined && this.term?.leaseId !== leaseId) void this.revokeLease(leaseId);
      this.scheduleRetry();
    }
  }

  /**
   * Each attempt of an election call gets a third of the TTL: one that meets a hung member
   * fails over to another (etcd-client.ts) in time for the lease window, not after the client's
   * general deadline.
   */
  private callOptions(): { readonly deadline: number } {
    return attemptDeadline((this.ttlSeconds * 1000) / 3);
  }

  private scheduleRetry(): void {
    if (!this.campaigning) return;
    this.clearRetry();
    this.retryTimer = this.clock.setTimeout(() => void this.startTerm(), this.retryDelayMs);
    this.retryDelayMs = Math.min(2000, this.retryDelayMs * 2);
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private watch(term: Term): Promise<Watcher | null> {
    return this.root
      .watch()
      .prefix(HaKeys.leaderPrefix)
      .create()
      .then((watcher) => {
        const again = (): void => void this.evaluate(term);
        watcher.on('put', again).on('delete', again).on('connected', again);
        watcher.on('error', (err) => this.log?.debug({ err }, 'election watch error'));
        if (term.over) void withDeadline(watcher.cancel(), 1000, this.clock);
        else again();
        return watcher;
      })
      .catch((err: unknown) => {
        this.log?.debug({ err }, 'election watch failed');
        return null;
      });
  }

  /**
   * Who leads now? One read in flight per term, at most one more queued; but a read unanswered
   * for TTL/10 (on a member that hangs, until its deadline) does not hold the next one back: a
   * fresh read goes out beside it (to another member) and the older answer, if it comes, is
   * stale and ignored.
   */
  private async evaluate(term: Term, now = false): Promise<void> {
    if (term.over) return;
    if (!now && term.readStartedAt !== null && this.clock.now() - term.readStartedAt < term.ttlMs / 10) {
      term.evaluateAgain = true;
      return;
    }
    term.evaluateAgain = false;
    const seq = ++term.readSeq;
    term.readStartedAt = this.clock.now();
    try {
      const kvs: IKeyValue[] = await etcdCall('leader read', () =>
        this.root.getAll().prefix(HaKeys.leaderPrefix).sort('Create', 'Ascend').options(this.callOptions()).exec().then((r) => r.kvs),
      );
      if (term.over || seq < term.appliedSeq) return;
      term.appliedSeq = seq;
      const mine = kvs.some((kv) => kv.create_revision === term.createRevision);
      if (!mine) {
        await this.endTerm(term, 'leader key deleted', true);
        return;
      }
      if (!term.leading && kvs[0]?.create_revision === term.createRevision && this.leaseVouched(term)) {
        term.leading = true;
        this.log?.info({ sessionId: term.sessionId }, 'leadership granted');
        this.contender?.grantLeadership(term.sessionId);
      }
    } catch (err) {
      this.log?.debug({ err }, 'leader read failed; the next check (a watch event, or the standby poll) retries');
    } finally {
      if (seq === term.readSeq) {
        term.readStartedAt = null;
        if (term.evaluateAgain) void this.evaluate(term);
      }
    }
  }

  private keepalive(term: Term): void {
    const sentAt = this.clock.now();
    void this.root.leaseClient
      .leaseKeepAlive({ deadline: realClock.now() + term.ttlMs / 3 })
      .then(
        (stream) =>
          new Promise<string>((resolve, reject) => {
            stream.on('data', (res: { TTL: string }) => resolve(res.TTL));
            stream.on('error', reject);
            stream.write({ ID: term.leaseId });
          }).finally(() => stream.end()),
      )
      .then(
        (ttl) => {
          if (term.over) return;
          if (ttl === '0') {
            void this.endTerm(term, 'lease expired on the server', false);
            return;
          }
          term.confirmedAt = Math.max(term.confirmedAt, sentAt);
        },
        (err: unknown) => {
          this.log?.debug({ err }, 'lease keepalive failed');
          // Retry soon (likely on another member) rather than a whole interval later: the
          // 2/3-TTL window must cover an etcd leader election (1-2 s with our launcher).
          if (!term.over) {
            const retry = this.clock.setTimeout(() => !term.over && this.keepalive(term), Math.max(50, term.ttlMs / 20));
            term.timers.push(() => this.clock.clearTimeout(retry));
          }
        },
      );
  }

  private leaseVouched(term: Term): boolean {
    return this.clock.now() - term.confirmedAt < (term.ttlMs * 2) / 3;
  }

  private checkLease(term: Term): void {
    if (!term.over && !this.leaseVouched(term)) void this.endTerm(term, 'lease not confirmed for 2/3 of its TTL', true);
  }

  private guardOf(term: Term): EtcdLeaderGuard {
    return {
      sessionId: term.sessionId,
      leaderKey: term.key,
      createRevision: term.createRevision,
      check: () => {
        if (term.over || !term.leading) throw new FencingError(term.sessionId, 'not-leader');
        if (!this.leaseVouched(term)) {
          void this.endTerm(term, 'lease not confirmed for 2/3 of its TTL', true);
          throw new FencingError(term.sessionId, 'lease-unconfirmed');
        }
      },
    };
  }

  /** Revoke leadership first (synchronously), then clean up and campaign again if still on. */
  private async endTerm(term: Term, reason: string, revokeLease: boolean): Promise<void> {
    if (term.over) return;
    term.over = true;
    for (const stop of term.timers) stop();
    if (term.leading) {
      term.leading = false;
      this.log?.warn({ sessionId: term.sessionId, reason }, 'leadership revoked');
      try {
        this.contender?.revokeLeadership();
      } catch (err) {
        this.log?.error({ err }, 'revokeLeadership threw');
      }
    } else {
      this.log?.debug({ reason }, 'candidacy ended');
    }
    if (this.term === term) this.term = null;
    // A watch that etcd never confirmed (etcd down) is cancelled when it is (see watch()).
    const watcher = await withDeadline(term.watcher, 1000, this.clock);
    await Promise.all([
      watcher ? withDeadline(watcher.cancel(), 1000, this.clock) : undefined,
      revokeLease ? this.revokeLease(term.leaseId) : undefined,
    ]);
    this.scheduleRetry();
  }

  private async revokeLease(leaseId: string): Promise<void> {
    try {
      await this.root.leaseClient.leaseRevoke({ ID: leaseId }, this.callOptions());
    } catch (err) {
      this.log?.debug({ err }, 'lease revoke failed; it expires by itself');
    }
  }
}
