/**
 * Proof that a leader's process is dead, for a takeover before its lease runs out.
 *
 * When a process dies (SIGKILL, crash, OOM kill), its kernel closes every socket it had: its
 * peers' connections to it end (FIN or RST) at once, and its listening port is gone, so a new
 * connection to that address is refused (RST to the SYN: ECONNREFUSED). A process that is
 * alive but paused (SIGSTOP), hung, or cut off by a partition closes nothing: its connections
 * go silent (heartbeat timeout, not a close), and a connect either succeeds (a paused process's
 * kernel still accepts into the listen backlog) or goes unanswered (a partition that DROPs).
 * So a standby Master counts its leader as dead only if all three hold (actors/master/takeover.ts):
 * 1. its handshake-verified connection to the term's process (the instance uid the term
 *    published with its key) was open and then closed, not timed out;
 * 2. a new connect to the term's advertised address is refused (`probeAddress` here), or
 *    succeeds but the handshake verifies another instance there (a new process on that port);
 * 3. the term it revokes is the one it saw die: its key and create revision (etcd-election.ts
 *    `revokeDeadTerm`, a transaction guarded on them).
 *
 * Limits, and why they are acceptable:
 * - A firewall rule that REJECTs with a TCP reset between standby and leader (across hosts) can
 *   fake both 1 and 2 while the leader is alive. The ICMP kind of REJECT (iptables' default)
 *   does not break an established connection, so 1 fails; the DROP partitions of our tests
 *   (scripts/support/netns/) produce silence, so 2 fails. Even when faked, the result is an
 *   unneeded leader change, never two leaders acting: the revocation deletes the old term's
 *   key, every write of that term is guarded on the key in etcd (fenced-txn.ts) and fails from
 *   then on, its election sees the delete and steps down, and TaskExecutors prefer the newer,
 *   higher fencing token.
 * - A process whose listener closed but which is still running counts as dead: a Master closes
 *   its listener only after it resigned (scripts/processes/master.ts), so that term is over anyway.
 * - Without a connection to the leader before it died (a standby started later, or a leader
 *   that published no instance), there is no proof and the lease decides, as before.
 */
import net from 'node:net';
import type { Clock } from '../util/clock.js';
import { parseHostPort } from '../util/host-address.js';

/** What a connect to a leader's address found. */
export const ProbeOutcome = {
  /** The address refused the connection: nothing listens there. */
  Refused: 'refused',
  /** Something accepted it: which process, only a verified handshake can tell. */
  Accepted: 'accepted',
  /** No answer in time, or another error (unreachable host, reset): no proof either way. */
  NoAnswer: 'no-answer',
} as const;
export type ProbeOutcome = (typeof ProbeOutcome)[keyof typeof ProbeOutcome];

/**
 * Open a plain TCP connection to `address` (`host:port`) and close it at once. Only
 * ECONNREFUSED counts as refused; the connection carries no byte, so the peer's transport
 * sees a connection that ends during its handshake and forgets it.
 */
export function probeAddress(address: string, timeoutMs: number, clock: Clock, signal?: AbortSignal): Promise<ProbeOutcome> {
  const target = parseHostPort(address);
  if (!target || signal?.aborted) return Promise.resolve(ProbeOutcome.NoAnswer);
  return new Promise((resolve) => {
    let settled = false;
    const socket = net.connect({ host: target.host, port: target.port });
    const settle = (outcome: ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      socket.destroy();
      resolve(outcome);
    };
    // Whoever asked has gone (the standby's state was left): close the socket now.
    const abort = (): void => settle(ProbeOutcome.NoAnswer);
    signal?.addEventListener('abort', abort);
    const timer = clock.setTimeout(() => settle(ProbeOutcome.NoAnswer), timeoutMs);
    socket.once('connect', () => settle(ProbeOutcome.Accepted));
    socket.once('error', (err: NodeJS.ErrnoException) => settle(err.code === 'ECONNREFUSED' ? ProbeOutcome.Refused : ProbeOutcome.NoAnswer));
  });
}
