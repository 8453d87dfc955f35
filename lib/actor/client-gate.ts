/**
 * What a connection authenticated as a `client` may deliver. A client holds the client secret
 * only, so it gets exactly the client protocol: tells of the listed types to the one actor
 * that serves clients (the Master), each answering only the client itself, and replies to asks
 * that this system sent to that client. Everything else (watches, other actors, internal
 * messages, replies addressed to other nodes) is refused before it reaches a mailbox.
 */
import { ActorRef } from './ref.js';
import type { ClientProtocol } from './options.js';
import { EnvelopeKind, type Envelope } from '../transport/protocol.js';

const ASK_PREFIX = '$ask/';

/** Why a client's envelope is refused, or null when it may be delivered. */
export function clientEnvelopeProblem(
  from: string,
  envelope: Envelope,
  protocol: ClientProtocol | null,
  /** Whether this system has a pending ask with that id sent to `from`. */
  askedFrom: (askId: number) => boolean,
): string | null {
  if (envelope[0] !== EnvelopeKind.Tell) return `a client may send only tells, not envelopes of kind ${envelope[0]}`;
  const [, target, message, replyTo] = envelope;
  if (target.startsWith(ASK_PREFIX)) {
    return askedFrom(Number(target.slice(ASK_PREFIX.length))) ? null : `a client may answer only asks sent to it, not ${target}`;
  }
  const type = (message as { type?: unknown } | null)?.type;
  if (protocol === null || target !== protocol.actor || typeof type !== 'string' || !protocol.types.includes(type)) {
    return `a client may not send ${typeof type === 'string' ? type : typeof message} to ${target}`;
  }
  // Replies go back to the client only: a client must not aim the Master's answers at a node.
  for (const ref of [replyTo, (message as { replyTo?: unknown }).replyTo]) {
    if (ref !== undefined && !(ref instanceof ActorRef && ref.node === from)) return `a client's replyTo must be on the client itself`;
  }
  return null;
}
