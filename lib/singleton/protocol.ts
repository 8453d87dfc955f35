/**
 * The gate: one actor per SingletonManager on every node, through which proxies reach the
 * singletons this node hosts. Every message carries the fencing token of the term the
 * sender believes current; the gate delivers it only if this node hosts that term now (a
 * fenced endpoint). Otherwise an ask fails with SINGLETON_NOT_HOST and a tell is bounced
 * to the sender's gate: the sender's proxy keeps both and retries, so nothing sent during
 * a handover is lost or handled by a stale instance.
 */
import type { ActorRef } from '../actor/ref.js';

export type GateMessage =
  | {
      type: 'singleton.tell';
      singleton: string;
      token: string;
      message: unknown;
      /** The sender's gate, for a bounce. */
      from: ActorRef<GateMessage>;
      /** Sender's clock when the message was first sent: the handover deadline survives bounces. */
      since: number;
    }
  | { type: 'singleton.ask'; singleton: string; token: string; message: unknown; replyTo: ActorRef<unknown> }
  | { type: 'singleton.bounced'; singleton: string; token: string; message: unknown; since: number };

/** The gate's actor name for a group (one manager per group per node). */
export function gateName(group: string): string {
  return `singleton-gate.${group}`;
}
