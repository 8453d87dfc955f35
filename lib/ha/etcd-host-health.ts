/**
 * Which etcd members a client should not wait on. The etcd3 client sends each call (and each
 * stream: watch, lease keepalive) to a random member and, without this, keeps picking a member
 * that is cut off or SIGSTOPped (quorum intact): each such call waits for its whole deadline, a
 * keepalive or a leader read among them, so a leader misses its lease window and a standby
 * takes over seconds late. Its own circuit breaker does not help: a stream counts as a success
 * the moment it is created, so a hung member never trips it.
 *
 * This tracks, per member, the calls that have not been answered yet (a unary call until it
 * settles, a stream until the member sends its headers) and the failures that say "the member
 * did not answer" (DEADLINE_EXCEEDED, UNAVAILABLE). A member is passed over, while another one
 * is usable, when:
 * - it failed lately: for `suspectMs`, doubling per consecutive failure up to `maxSuspectMs`;
 * - a call to it is unanswered for more than `unansweredMs` (a hung member is noticed by the
 *   first call that meets it, well before that call's deadline);
 * - it failed before and a probe (one call) is already on its way to it: after a failure, one
 *   call at a time finds out whether it is back; an answered call clears its record.
 * When no member is usable every call goes through, as without this: the client is never made
 * to refuse what etcd might still answer.
 *
 * Used as etcd3's per-host fault-handling policy (`faultHandling.host`, see etcd-client.ts); a
 * passed-over member rejects with cockatiel's BrokenCircuitError before any I/O, which etcd3
 * takes as "try the next member".
 */
import { EventEmitter as NodeEventEmitter } from 'node:events';
import { BrokenCircuitError, EventEmitter, type IFailureEvent, type IPolicy, type ISuccessEvent } from 'cockatiel';
import { castGrpcError, GRPCDeadlineExceededError, GRPCUnavailableError } from 'etcd3';

export interface EtcdHostHealthOptions {
  /** How long a member is passed over after its first failure (default 1000 ms); doubles per consecutive failure. */
  suspectMs?: number;
  /** The longest it is passed over at a time (default 4000 ms): a healed member is used again this soon. */
  maxSuspectMs?: number;
  /** A call unanswered this long marks its member as hung until it is answered or fails (default 300 ms). */
  unansweredMs?: number;
  /** Milliseconds; monotonic by default. */
  now?: () => number;
}

export const DEFAULT_SUSPECT_MS = 1000;
export const DEFAULT_MAX_SUSPECT_MS = 4000;
export const DEFAULT_UNANSWERED_MS = 300;

interface MemberRecord {
  /** Consecutive "did not answer" failures; an answered call resets it. */
  failures: number;
  suspectUntil: number;
  /** Start times of the calls not answered yet, by call id. */
  unanswered: Map<number, number>;
}

/** A call's outcome, as the member's health sees it. */
export type CallOutcome = 'answered' | 'unresponsive' | 'ended';

/** True for an error that says the member did not answer in time or could not be reached. */
export function isUnresponsiveMember(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const typed = castGrpcError(err);
  return typed instanceof GRPCDeadlineExceededError || typed instanceof GRPCUnavailableError;
}

export class EtcdHostHealth {
  private readonly members = new Map<string, MemberRecord>();
  private readonly suspectMs: number;
  private readonly maxSuspectMs: number;
  private readonly unansweredMs: number;
  private readonly now: () => number;
  private nextCallId = 0;

  constructor(options: EtcdHostHealthOptions = {}) {
    this.suspectMs = options.suspectMs ?? DEFAULT_SUSPECT_MS;
    this.maxSuspectMs = options.maxSuspectMs ?? DEFAULT_MAX_SUSPECT_MS;
    this.unansweredMs = options.unansweredMs ?? DEFAULT_UNANSWERED_MS;
    this.now = options.now ?? (() => performance.now());
  }

  private record(member: string): MemberRecord {
    let record = this.members.get(member);
    if (!record) {
      record = { failures: 0, suspectUntil: 0, unanswered: new Map() };
      this.members.set(member, record);
    }
    return record;
  }

  /** Whether a call should go to `member` if it were the only one. */
  usable(member: string): boolean {
    const record = this.record(member);
    const now = this.now();
    if (now < record.suspectUntil) return false;
    if (record.failures > 0) return record.unanswered.size === 0; // one probe at a time
    for (const startedAt of record.unanswered.values()) if (now - startedAt > this.unansweredMs) return false;
    return true;
  }

  /** Pass `member` over: it is not usable and another known member is. */
  shouldPassOver(member: string): boolean {
    if (this.usable(member)) return false;
    for (const other of this.members.keys()) if (other !== member && this.usable(other)) return true;
    return false;
  }

  /** Note a call to `member` that waits for its answer; returns its id for {@link callSettled}. */
  callStarted(member: string): number {
    const id = ++this.nextCallId;
    this.record(member).unanswered.set(id, this.now());
    return id;
  }

  /** A call's outcome: `answered` clears the member's failures, `unresponsive` adds one, `ended` (cancelled, or failed for another reason) only closes the call. */
  callSettled(member: string, id: number, outcome: CallOutcome): void {
    const record = this.record(member);
    if (!record.unanswered.delete(id)) return;
    if (outcome === 'answered') {
      record.failures = 0;
      record.suspectUntil = 0;
    } else if (outcome === 'unresponsive') {
      record.failures += 1;
      record.suspectUntil = this.now() + Math.min(this.maxSuspectMs, this.suspectMs * 2 ** (record.failures - 1));
    }
  }

  /** etcd3's per-host policy for `member` (register every member before calls start). */
  policyFor(member: string): IPolicy {
    this.record(member);
    return new MemberPolicy(this, member);
  }
}

/** A grpc call object of a stream: emits `metadata` once the member answers, `status` at its end. */
function isGrpcStream(value: unknown): value is NodeEventEmitter {
  return value instanceof NodeEventEmitter;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

class MemberPolicy implements IPolicy {
  declare readonly _altReturn: never;
  private readonly successes = new EventEmitter<ISuccessEvent>();
  private readonly failures = new EventEmitter<IFailureEvent>();
  readonly onSuccess = this.successes.addListener;
  readonly onFailure = this.failures.addListener;

  constructor(
    private readonly health: EtcdHostHealth,
    private readonly member: string,
  ) {}

  async execute<T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T, signal = new AbortController().signal): Promise<T> {
    if (this.health.shouldPassOver(this.member)) throw new BrokenCircuitError(`etcd member ${this.member} is not answering; using another`);
    const startedAt = performance.now();
    // A synchronous throw is etcd3 reporting a stream's failure (markFailed), which the
    // stream's own events below have already counted.
    const result = fn({ signal });
    if (isThenable(result)) {
      const id = this.health.callStarted(this.member);
      try {
        const value = await result;
        this.health.callSettled(this.member, id, 'answered');
        this.successes.emit({ duration: performance.now() - startedAt });
        return value;
      } catch (err) {
        const unresponsive = isUnresponsiveMember(err);
        this.health.callSettled(this.member, id, unresponsive ? 'unresponsive' : 'answered');
        this.failures.emit({ duration: performance.now() - startedAt, handled: unresponsive, reason: { error: err as Error } });
        throw err;
      }
    }
    if (isGrpcStream(result)) this.follow(result);
    return result;
  }

  /** A stream is answered when the member sends its headers; a deadline or lost connection before that is a failure. */
  private follow(stream: NodeEventEmitter): void {
    const id = this.health.callStarted(this.member);
    // Only the first outcome counts: once the member answered, a later deadline or lost
    // connection is the stream's (a reader too slow, a watch left idle), not the member's;
    // a member lost under a watch is met unanswered by the watch's next stream.
    let settled = false;
    const settle = (outcome: CallOutcome): void => {
      if (settled) return;
      settled = true;
      this.health.callSettled(this.member, id, outcome);
    };
    stream.once('metadata', () => settle('answered'));
    stream.on('error', (err: unknown) => settle(isUnresponsiveMember(err) ? 'unresponsive' : 'ended'));
    stream.once('status', () => settle('ended'));
    stream.once('close', () => settle('ended'));
  }
}
