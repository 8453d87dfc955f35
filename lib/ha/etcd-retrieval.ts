/**
 * Follows the current leader: the key under `leader/` with the lowest create revision (see
 * etcd-election.ts). A watch on the prefix reports changes at once; a periodic re-read
 * covers what a watch can miss while it reconnects (etcd restarted, member paused).
 * While etcd is unreachable the last leader seen is kept: the leader itself steps down if
 * it is cut off, and its fencing token makes stale messages harmless.
 */
import type { Namespace, Watcher } from 'etcd3';
import type { Logger } from '../logging.js';
import { HaClosedError } from './errors.js';
import { etcdCall, HaKeys } from './etcd-client.js';
import { decodeLeaderRecord, sessionIdOf } from './etcd-election.js';
import type { LeaderInfo, LeaderListener, LeaderRetrieval } from './types.js';
import { monotonicClock, withDeadline, type Clock } from './util.js';
import { every, type StopTimer } from '../util/clock.js';

export interface EtcdLeaderRetrievalOptions {
  root: Namespace;
  /** Re-read interval that backs up the watch (default 1000 ms). */
  resyncMs?: number;
  /** Timers of the re-reads (monotonic real time by default). */
  clock?: Clock;
  log?: Logger;
}

/**
 * @example
 * ```ts
 * const retrieval = new EtcdLeaderRetrieval({ root: client.namespace(haRoot('c1')) });
 * retrieval.start((leader) => leader ? connect(leader.address, leader.sessionId) : disconnect());
 * await retrieval.close();
 * ```
 */
export class EtcdLeaderRetrieval implements LeaderRetrieval {
  private readonly root: Namespace;
  private readonly resyncMs: number;
  private readonly clock: Clock;
  private readonly log: Logger | undefined;
  private listener: LeaderListener | null = null;
  private leader: LeaderInfo | null = null;
  private known = false;
  private closed = false;
  private stopResync: StopTimer | undefined;
  private watcher: Promise<Watcher | null> = Promise.resolve(null);
  private reading = false;
  private readAgain = false;

  constructor(options: EtcdLeaderRetrievalOptions) {
    this.root = options.root;
    this.resyncMs = options.resyncMs ?? 1000;
    this.clock = options.clock ?? monotonicClock;
    this.log = options.log;
  }

  start(listener: LeaderListener): void {
    if (this.closed) throw new HaClosedError('leader retrieval');
    if (this.listener) throw new RangeError('leader retrieval already started');
    this.listener = listener;
    this.stopResync = every(this.clock, this.resyncMs, () => void this.refresh());
    this.watcher = this.root
      .watch()
      .prefix(HaKeys.leaderPrefix)
      .create()
      .then((watcher) => {
        const again = (): void => void this.refresh();
        watcher.on('put', again).on('delete', again).on('connected', again);
        watcher.on('error', (err) => this.log?.debug({ err }, 'leader watch error'));
        if (this.closed) void withDeadline(watcher.cancel(), 1000, this.clock);
        return watcher;
      })
      .catch((err: unknown) => {
        this.log?.debug({ err }, 'leader watch failed; relying on re-reads');
        return null;
      });
    void this.refresh();
  }

  current(): LeaderInfo | null {
    return this.leader;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopResync?.();
    const watcher = await withDeadline(this.watcher, 1000, this.clock);
    if (watcher) await withDeadline(watcher.cancel(), 1000, this.clock);
  }

  /** Read the lowest leader key; notify on change. One read in flight, one more queued. */
  private async refresh(): Promise<void> {
    if (this.closed) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.readAgain = false;
        const kvs = await etcdCall('leader read', () =>
          this.root.getAll().prefix(HaKeys.leaderPrefix).sort('Create', 'Ascend').limit(1).exec().then((r) => r.kvs),
        );
        const kv = kvs[0];
        const next = kv ? { ...decodeLeaderRecord(kv.value.toString('utf8'), sessionIdOf(kv.create_revision)), leaseId: kv.lease } : null;
        if (this.closed) return;
        const changed = next?.sessionId !== this.leader?.sessionId || next?.address !== this.leader?.address || next?.rest !== this.leader?.rest || next?.instance !== this.leader?.instance;
        if (!this.known || changed) {
          this.known = true;
          this.leader = next;
          this.log?.debug({ leader: next }, 'leader changed');
          this.listener?.(next);
        }
      } while (this.readAgain && !this.closed);
    } catch (err) {
      this.log?.debug({ err }, 'leader read failed; retrying on the next resync');
    } finally {
      this.reading = false;
    }
  }
}
