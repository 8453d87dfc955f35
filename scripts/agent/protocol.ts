/**
 * The protocol of `flinkish agent` (scripts/agent/agent.ts): after the handshake on the agent
 * plane (lib/transport/handshake.ts, node role), each frame is one MessagePack map. The agent
 * serves exactly these four requests; anything else gets an `error` reply with
 * AGENT_UNKNOWN_REQUEST. Every request carries an `id` that its reply repeats.
 */

/** The only signals the agent sends: kill, pause, resume. */
export const AgentSignals = ['SIGKILL', 'SIGSTOP', 'SIGCONT'] as const;
export type AgentSignal = (typeof AgentSignals)[number];

/** What a partition rule drops: what arrives from the peer, what this host sends to it, or both. */
export const PartitionDirections = ['from', 'to', 'both'] as const;
export type PartitionDirection = (typeof PartitionDirections)[number];

/** The roles of the flinkish processes the agent recognizes (by their command line). */
export type AgentProcessRole = 'master' | 'taskexecutor';

export type AgentRequest =
  /** The flinkish processes of this host. */
  | { t: 'list'; id: number }
  /** Signal one of them; `startTicks` (from `list`) proves it is still the same process, not a reused pid. */
  | { t: 'signal'; id: number; pid: number; startTicks: string; signal: AgentSignal }
  /** Drop traffic between this host and `peer` (an IP address) until healed or `expiresInMs` (capped) passes. */
  | { t: 'partition'; id: number; peer: string; direction: PartitionDirection; expiresInMs?: number }
  /** Remove every partition rule of this agent. */
  | { t: 'heal'; id: number };

export interface AgentProcess {
  pid: number;
  /** When it started (clock ticks since boot): with the pid, names one process. */
  startTicks: string;
  role: AgentProcessRole;
  /** The TCP addresses it listens on (`host:port`; a wildcard bind shows as 0.0.0.0 or [::]). */
  listening: string[];
}

export type AgentReply =
  | { t: 'processes'; id: number; processes: AgentProcess[] }
  | { t: 'signaled'; id: number; pid: number; signal: AgentSignal }
  | { t: 'partitioned'; id: number; peer: string; direction: PartitionDirection; expiresInMs: number }
  | { t: 'healed'; id: number; removed: number }
  | { t: 'error'; id: number | null; code: string; message: string };

export type AgentRequestType = AgentRequest['t'];

const REQUEST_FIELDS: Record<AgentRequestType, readonly string[]> = {
  list: ['t', 'id'],
  signal: ['t', 'id', 'pid', 'startTicks', 'signal'],
  partition: ['t', 'id', 'peer', 'direction', 'expiresInMs'],
  heal: ['t', 'id'],
};

/** The request id of a decoded frame, if it has a usable one (for the error reply). */
export function requestId(value: unknown): number | null {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof value === 'object' && value !== null && Number.isSafeInteger(id) ? (id as number) : null;
}

/**
 * Checks a decoded frame: the request, or why it is refused (`unknown` for a type the agent
 * does not serve, `bad` for a known type of the wrong shape).
 */
export function parseRequest(value: unknown): { ok: true; request: AgentRequest } | { ok: false; kind: 'unknown' | 'bad'; reason: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, kind: 'unknown', reason: 'a request is a map with a type `t`' };
  const v = value as Record<string, unknown>;
  const t = v['t'];
  if (typeof t !== 'string' || !Object.hasOwn(REQUEST_FIELDS, t)) {
    return { ok: false, kind: 'unknown', reason: `unknown request ${JSON.stringify(typeof t === 'string' ? t.slice(0, 64) : t)}; the agent serves ${Object.keys(REQUEST_FIELDS).join(', ')}` };
  }
  const type = t as AgentRequestType;
  const bad = (reason: string) => ({ ok: false as const, kind: 'bad' as const, reason: `${type}: ${reason}` });
  const extra = Object.keys(v).find((k) => !REQUEST_FIELDS[type].includes(k));
  if (extra !== undefined) return bad(`unexpected field '${extra.slice(0, 64)}'`);
  if (!Number.isSafeInteger(v['id'])) return bad('id must be an integer');
  switch (type) {
    case 'list':
    case 'heal':
      return { ok: true, request: v as AgentRequest };
    case 'signal':
      if (!Number.isSafeInteger(v['pid']) || (v['pid'] as number) < 2) return bad('pid must be an integer above 1');
      if (typeof v['startTicks'] !== 'string' || !/^\d{1,20}$/.test(v['startTicks'])) return bad('startTicks must be the decimal start time that list reported');
      if (!(AgentSignals as readonly unknown[]).includes(v['signal'])) return bad(`signal must be one of ${AgentSignals.join(', ')}`);
      return { ok: true, request: v as AgentRequest };
    case 'partition':
      if (typeof v['peer'] !== 'string' || v['peer'].length > 64) return bad('peer must be an IP address');
      if (!(PartitionDirections as readonly unknown[]).includes(v['direction'])) return bad(`direction must be one of ${PartitionDirections.join(', ')}`);
      if (v['expiresInMs'] !== undefined && (!Number.isSafeInteger(v['expiresInMs']) || (v['expiresInMs'] as number) < 1000)) return bad('expiresInMs must be an integer of at least 1000');
      return { ok: true, request: v as AgentRequest };
  }
}
