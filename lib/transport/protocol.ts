/**
 * The wire protocol between two actor systems, after the handshake. Every frame is one
 * MessagePack array whose first element is the envelope kind; compact on purpose, because
 * the tell path is hot.
 */
import type { WireError } from '../errors.js';

/** Bumped on any incompatible change; checked in the handshake. */
export const PROTOCOL_VERSION = 2; // 2: the handshake with direction-bound proofs, planes and roles

export const EnvelopeKind = {
  /** [Tell, targetName, message, replyTo?] — replyTo is an ActorRef, set for asks. */
  Tell: 1,
  /** [Watch, targetName] — the sending node watches a local actor of the receiver. */
  Watch: 2,
  /** [Unwatch, targetName] */
  Unwatch: 3,
  /** [Terminated, actorName, reason, error?] — an actor that the receiver watched has ended. */
  Terminated: 4,
  /** [Restarted, actorName, error] — a watched actor failed and was restarted by its supervisor. */
  Restarted: 5,
  /** [Heartbeat] — keeps an idle connection provably alive. */
  Heartbeat: 6,
} as const;
export type EnvelopeKind = (typeof EnvelopeKind)[keyof typeof EnvelopeKind];

export type TerminationReason =
  | 'stopped'
  | 'failed'
  | 'not-found'
  | 'connection-lost'
  | 'heartbeat-timeout'
  | 'system-terminated';

export type Envelope =
  | [kind: typeof EnvelopeKind.Tell, target: string, message: unknown, replyTo?: unknown]
  | [kind: typeof EnvelopeKind.Watch, target: string]
  | [kind: typeof EnvelopeKind.Unwatch, target: string]
  | [kind: typeof EnvelopeKind.Terminated, actor: string, reason: TerminationReason, error?: WireError]
  | [kind: typeof EnvelopeKind.Restarted, actor: string, error: WireError]
  | [kind: typeof EnvelopeKind.Heartbeat];

/**
 * What a receiver returns for an envelope whose target has more queued than it should hold: the
 * connection stops reading (TCP then holds the sender back, whose send queue fills) until the
 * backlog is relieved. Order is kept: nothing is skipped, reading just waits.
 */
export interface Backlog {
  /** Calls `relieved` once (at once if it already is). */
  whenRelieved(relieved: () => void): void;
}

const ARITY: Record<number, [min: number, max: number]> = {
  [EnvelopeKind.Tell]: [3, 4],
  [EnvelopeKind.Watch]: [2, 2],
  [EnvelopeKind.Unwatch]: [2, 2],
  [EnvelopeKind.Terminated]: [3, 4],
  [EnvelopeKind.Restarted]: [3, 3],
  [EnvelopeKind.Heartbeat]: [1, 1],
};

/**
 * Checks the shape of a decoded frame. Returns a reason string when the frame is not a valid
 * envelope, so the connection can be closed with that reason logged.
 */
export function envelopeProblem(value: unknown): string | null {
  if (!Array.isArray(value) || value.length === 0) return 'frame is not an envelope array';
  const kind = value[0];
  const arity = typeof kind === 'number' ? ARITY[kind] : undefined;
  if (!arity) return `unknown message type ${JSON.stringify(kind)}`;
  if (value.length < arity[0] || value.length > arity[1]) return `envelope of kind ${kind} has ${value.length} fields`;
  if (kind !== EnvelopeKind.Heartbeat && typeof value[1] !== 'string') return `envelope of kind ${kind} has no target name`;
  return null;
}
