/**
 * The etcd client as the HA services use it: every unary request has a deadline, so that an
 * unreachable etcd (or one without quorum) fails a call in `requestTimeoutMs` instead of
 * hanging; reconnects and watch restarts back off to at most a second, so that service
 * resumes quickly when etcd returns. A member that stops answering (cut off, SIGSTOPped) is
 * passed over as soon as one call meets it unanswered (etcd-host-health.ts), and a failed call
 * is retried once on another member: with a quorum left, nothing waits on the lost member.
 */
import { Etcd3, isRecoverableError } from 'etcd3';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { FencingError, HaUnavailableError } from './errors.js';
import { etcdSecurityOptions, type EtcdCredentials } from './etcd-auth.js';
import { EtcdHostHealth, type EtcdHostHealthOptions } from './etcd-host-health.js';
import { realClock } from '../util/clock.js';

/** Credentials (user/password, TLS files) are those of {@link EtcdCredentials}. */
export interface EtcdClientOptions extends EtcdCredentials {
  /** Client URLs, e.g. `http://127.0.0.1:2379`. */
  endpoints: string[];
  /** Deadline of each attempt of a unary request (default 2000 ms). Streams (watch, keepalive) have none. */
  requestTimeoutMs?: number;
  /**
   * Accepted for compatibility and ignored: etcd3 1.1.2 declares `dialTimeout` but never uses
   * it. Connecting is bounded by each call's deadline, and a member that does not answer is
   * passed over (see `hostHealth`).
   */
  dialTimeoutMs?: number;
  /**
   * gRPC keepalive ping interval (default {@link DEFAULT_KEEPALIVE_MS}): how fast a paused or
   * cut-off member is noticed on an otherwise idle watch (a killed one closes its connections
   * at once). It must not be below etcd's `--grpc-keepalive-min-time` (default 5 s): etcd
   * counts each quicker ping as a strike and closes the connection on the third
   * (GOAWAY too_many_pings, "rejected by server because of excess pings").
   */
  keepaliveMs?: number;
  /** When a member is passed over (see etcd-host-health.ts); the defaults suit a lease TTL of 2 s and up. */
  hostHealth?: EtcdHostHealthOptions;
}

/** etcd's default `--grpc-keepalive-min-time` is 5 s; a second of margin for timer jitter. */
export const DEFAULT_KEEPALIVE_MS = 6000;

export const DEFAULT_REQUEST_TIMEOUT_MS = 2000;

/**
 * Largest answer the client accepts (gRPC's default is 4 MiB). Listings read in pages
 * (etcd-pages.ts) sized to stay well within it; the margin covers values of etcd's maximum
 * size written before the stores bounded them.
 */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/**
 * Call options whose deadline is `ms` from each attempt's start. etcd3 merges a call's options
 * into the defaults once per attempt (`{ ...defaults, ...options }`), which reads the getter
 * then: a plain `{ deadline }` would be spent by the first attempt and leave the retry on
 * another member none. For calls that must fail over faster than `requestTimeoutMs`.
 */
export function attemptDeadline(ms: number): { readonly deadline: number } {
  return Object.defineProperty({}, 'deadline', { get: () => realClock.now() + ms, enumerable: true }) as { readonly deadline: number };
}

/**
 * Create a client. Close it with `client.close()`; the HA services never close a client
 * they were given.
 *
 * @example
 * ```ts
 * const client = createEtcdClient({ endpoints: etcd.endpoints });
 * const root = client.namespace(haRoot('my-cluster'));
 * ```
 */
export function createEtcdClient(options: EtcdClientOptions): Etcd3 {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
  const health = new EtcdHostHealth(options.hostHealth);
  return new Etcd3({
    hosts: options.endpoints,
    ...etcdSecurityOptions(options),
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: realClock.now() + requestTimeoutMs }),
    grpcOptions: {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.keepalive_time_ms': keepaliveMs,
      'grpc.keepalive_timeout_ms': Math.max(500, Math.floor(keepaliveMs / 2)),
      // etcd refuses pings while no stream is open (PermitWithoutStream=false).
      'grpc.keepalive_permit_without_calls': 0,
      'grpc.max_receive_message_length': MAX_ANSWER_BYTES,
    },
    faultHandling: {
      // One retry moves a failed call to another member (the pool shuffles hosts per attempt,
      // and the host policy passes over one that is not answering).
      global: retry(handleWhen(isRecoverableError), { maxAttempts: 1 }),
      // etcd3's default, a breaker per member, never opens on a hung member (see etcd-host-health.ts).
      host: (endpoint) => health.policyFor(endpoint),
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }).next(),
    },
  });
}

/** The key prefix of one cluster's HA data: `/flinkish/<clusterId>/`. */
export function haRoot(clusterId: string, base = '/flinkish'): string {
  return `${base}/${encodeURIComponent(clusterId)}/`;
}

/** Key layout under the root namespace; ids are URI-encoded so that a `/` in one cannot nest. */
export const HaKeys = {
  leaderPrefix: 'leader/',
  jobGraph: (jobId: string) => `jobgraphs/${encodeURIComponent(jobId)}`,
  jobGraphPrefix: 'jobgraphs/',
  jobResult: (jobId: string) => `jobresults/${encodeURIComponent(jobId)}`,
  jobResultPrefix: 'jobresults/',
  jobExecution: (jobId: string) => `jobexecutions/${encodeURIComponent(jobId)}`,
  checkpointPrefix: (jobId: string) => `checkpoints/${encodeURIComponent(jobId)}/`,
  /** Zero-padded so that keys sort by id. */
  checkpoint: (jobId: string, checkpointId: number) =>
    `checkpoints/${encodeURIComponent(jobId)}/${String(checkpointId).padStart(20, '0')}`,
  checkpointCounter: (jobId: string) => `checkpoint-counter/${encodeURIComponent(jobId)}`,
} as const;

/** Run one etcd call, turning client failures into HaUnavailableError (fencing errors pass). */
export async function etcdCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof FencingError || err instanceof HaUnavailableError) throw err;
    throw new HaUnavailableError(operation, err);
  }
}
