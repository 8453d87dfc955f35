/**
 * What this Master process knows about leadership, for the REST API and the dashboard: the
 * current leader and the changes it has seen since it started (its failover history). The HA
 * code reports into it (`granted`, `revoked`, `observed`); standalone mode grants once.
 *
 * The leader session id is what TaskExecutors check before they obey a leader, so it is kept
 * here only to tell terms apart and never published: the open REST endpoints show a term's
 * ordinal as this process has counted them instead.
 */
import { metrics } from '../metrics/registry.js';
import { realClock } from '../util/clock.js';

export interface LeaderInfo {
  /** Ordinal of this term among those this process has seen (1, 2, ...); not the session id. */
  term: number;
  /** The leader's actor-system node (`host:port`). */
  node: string;
  /** The leader's REST address (`host:port`), when known: the leader publishes it in etcd. */
  rest: string | null;
  /** The same as a URL (`http://host:port`), for a client to follow a standby's 421. */
  url: string | null;
  /** When this process learned of this leader (ms since epoch). */
  since: number;
}

export interface LeaderTerm extends LeaderInfo {
  /** When the term ended, as seen from here; null while it lasts. */
  until: number | null;
}

const HISTORY = 100;

/**
 * @example
 * const leadership = new LeaderTracker(system.node);
 * leadership.setRestAddress(rest.address);
 * leadership.granted('1');                     // standalone: lead at once
 * leadership.observed({ sessionId, node, rest }); // HA: what leader retrieval saw
 */
export class LeaderTracker {
  private rest: string | null = null;
  private leader: LeaderInfo | null = null;
  /** Session of the current leader: the fencing token, never handed out. */
  private sessionId: string | null = null;
  private termsSeen = 0;
  private readonly terms: LeaderTerm[] = [];

  constructor(
    /** This Master's node id. */
    readonly node: string,
    private readonly now: () => number = realClock.now,
  ) {}

  setRestAddress(address: string | null): void {
    this.rest = address;
  }

  get isLeader(): boolean {
    return this.leader?.node === this.node;
  }

  current(): LeaderInfo | null {
    return this.leader && { ...this.leader };
  }

  /** Terms seen by this process, oldest first (at most the last 100). */
  history(): LeaderTerm[] {
    return this.terms.map((t) => ({ ...t }));
  }

  /** This Master was granted leadership for `sessionId`. */
  granted(sessionId: string): void {
    this.observed({ sessionId, node: this.node, rest: this.rest });
  }

  /** This Master lost leadership; who leads next is learned through `observed`. */
  revoked(): void {
    if (this.isLeader) this.observed(null);
  }

  /** The leader as leader retrieval sees it; null while there is none. */
  observed(leader: { sessionId: string; node: string; rest?: string | null } | null): void {
    if (leader && this.leader && leader.sessionId === this.sessionId && leader.node === this.leader.node) {
      // Same term; the REST address may have arrived later.
      if (leader.rest !== undefined && leader.rest !== null) Object.assign(this.leader, restOf(leader.rest));
      return;
    }
    const now = this.now();
    const last = this.terms.at(-1);
    if (last && last.until === null) last.until = now;
    this.sessionId = leader?.sessionId ?? null;
    this.leader = leader ? { term: ++this.termsSeen, node: leader.node, ...restOf(leader.rest ?? null), since: now } : null;
    if (!this.leader) return;
    this.terms.push({ ...this.leader, until: null });
    if (this.terms.length > HISTORY) this.terms.shift();
    metrics.leaderChanged();
  }
}

function restOf(rest: string | null): { rest: string | null; url: string | null } {
  return { rest, url: rest ? `http://${rest}` : null };
}
