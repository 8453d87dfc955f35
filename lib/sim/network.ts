/**
 * The simulated network under the actor systems of a simulation, behind the transport's
 * interface (SystemTransport). One connection per pair of nodes, as the real transport keeps:
 * messages on it arrive in order after a seeded latency; a cut direction loses them, and the
 * side that hears nothing declares the connection lost after the heartbeat timeout (both sides
 * learn it, as a closed TCP connection tells both); a broken connection is lost at once; a
 * crashed node's connections close at once. A new connection is dialed on the next send and
 * succeeds only while both directions are open; a dial that fails reports the peer lost.
 *
 * Envelopes are encoded by the sender's codec and decoded by the receiver's (actor refs are
 * bound to the receiving system, as on the wire).
 */
import type { Logger } from '../logging.js';
import type { SystemTransport } from '../actor/options.js';
import type { WireCodec } from '../transport/connection.js';
import { Role } from '../transport/handshake.js';
import { EnvelopeKind, type Envelope } from '../transport/protocol.js';
import type { PeerLossReason, TransportHandlers } from '../transport/transport.js';
import type { Rng } from './rng.js';
import type { Scheduler, SimNode } from './scheduler.js';

export interface NetworkSettings {
  minLatencyMs: number;
  maxLatencyMs: number;
  /** A connection that hears nothing for this long is declared lost. */
  heartbeatTimeoutMs: number;
  /** A dial to an unreachable peer fails after this long. */
  dialFailMs: number;
}

interface Pair {
  up: boolean;
  /** Bumped whenever the connection goes down: messages of an older connection are lost. */
  epoch: number;
  /** Last delivery time per direction (`a>b`): arrivals keep their order. */
  lastArrival: Map<string, number>;
  detecting: boolean;
  dialFailing: boolean;
  /** Sent while the direction was cut, per direction: TCP delivers them after the heal, unless the connection is lost first. */
  stalled: Map<string, Array<() => void>>;
}

export class SimNetwork {
  private readonly endpoints = new Map<string, SimTransport>();
  /** Cut directions, counted: overlapping faults each heal their own cut. */
  private readonly cuts = new Map<string, number>();
  private readonly pairs = new Map<string, Pair>();
  /** Short names for the trace (node id → name). */
  private readonly names = new Map<string, string>();
  /** Incarnations per node id: a restarted process announces another uid, as a real one does. */
  private readonly incarnations = new Map<string, number>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly rng: Rng,
    readonly settings: NetworkSettings,
  ) {}

  /** The transport of one incarnation of a node. */
  transport(simNode: SimNode, nodeId: string, codec: WireCodec, handlers: TransportHandlers, log: Logger): SimTransport {
    this.names.set(nodeId, simNode.name);
    const incarnation = (this.incarnations.get(nodeId) ?? 0) + 1;
    this.incarnations.set(nodeId, incarnation);
    const transport = new SimTransport(this, simNode, nodeId, `${nodeId}#${incarnation}`, codec, handlers, log);
    this.endpoints.set(nodeId, transport);
    return transport;
  }

  /** The uid of the transport at `to`, as `from` verified it, while they are connected. */
  peerUid(from: string, to: string): string | null {
    return this.isConnected(from, to) ? (this.endpoints.get(to)?.uid ?? null) : null;
  }

  name(nodeId: string): string {
    return this.names.get(nodeId) ?? nodeId;
  }

  latency(): number {
    return this.rng.int(this.settings.minLatencyMs, this.settings.maxLatencyMs);
  }

  /** Whether packets from `from` reach `to` now (node ids, or 'etcd'). */
  canReach(from: string, to: string): boolean {
    return !this.cuts.has(`${from}>${to}`);
  }

  /** Packets from `from` to `to` are lost until healed. */
  cut(from: string, to: string): void {
    const key = `${from}>${to}`;
    this.cuts.set(key, (this.cuts.get(key) ?? 0) + 1);
    const pair = this.pairs.get(pairKey(from, to));
    if (pair?.up) this.armDetection(from, to, pair);
  }

  heal(from: string, to: string): void {
    const key = `${from}>${to}`;
    const left = (this.cuts.get(key) ?? 1) - 1;
    if (left > 0) return void this.cuts.set(key, left);
    this.cuts.delete(key);
    const pair = this.pairs.get(pairKey(from, to));
    const stalled = pair?.stalled.get(key);
    if (!pair || !stalled) return;
    pair.stalled.delete(key);
    for (const deliver of stalled) deliver();
  }

  /** The connection between a and b closes now (a reset): both sides see it lost. */
  breakConnection(a: string, b: string): void {
    const pair = this.pairs.get(pairKey(a, b));
    if (pair?.up) this.down(a, b, pair, 'connection-lost', 'connection reset');
  }

  /** A node stopped processing: its peers hear nothing from it and time out. */
  paused(nodeId: string): void {
    for (const [key, pair] of this.pairs) {
      if (!pair.up) continue;
      const [a, b] = key.split('|') as [string, string];
      if (a === nodeId || b === nodeId) this.armDetection(a, b, pair);
    }
  }

  /** A node's process died: its connections close at once. */
  crashed(nodeId: string): void {
    const transport = this.endpoints.get(nodeId);
    if (transport) transport.dead = true;
    this.endpoints.delete(nodeId);
    for (const [key, pair] of this.pairs) {
      if (!pair.up) continue;
      const [a, b] = key.split('|') as [string, string];
      if (a === nodeId || b === nodeId) this.down(a, b, pair, 'connection-lost', 'the peer process died');
    }
  }

  connectionCount(nodeId: string): number {
    let n = 0;
    for (const [key, pair] of this.pairs) if (pair.up && key.split('|').includes(nodeId)) n++;
    return n;
  }

  isConnected(a: string, b: string): boolean {
    return this.pairs.get(pairKey(a, b))?.up ?? false;
  }

  send(from: SimTransport, to: string, envelope: Envelope): void {
    if (from.dead) return;
    const bytes = from.codec.encode(envelope);
    const key = pairKey(from.node, to);
    let pair = this.pairs.get(key);
    if (!pair) this.pairs.set(key, (pair = { up: false, epoch: 0, lastArrival: new Map(), detecting: false, dialFailing: false, stalled: new Map() }));
    const target = this.endpoints.get(to);
    if (!pair.up) {
      if (!target || !this.canReach(from.node, to) || !this.canReach(to, from.node) || target.simNode.paused) return this.dialFailed(from, to, pair);
      pair.up = true;
      this.tellUp(from, to);
      this.tellUp(target, from.node);
    }
    if (!target) return;
    const dir = `${from.node}>${to}`;
    const deliver = () => this.deliver(from, target, pair, dir, bytes, envelope);
    if (!this.canReach(from.node, to)) {
      // Retransmitted until the heal, or lost with the connection when its silence is detected.
      pair.stalled.set(dir, [...(pair.stalled.get(dir) ?? []), deliver]);
      return;
    }
    deliver();
  }

  private deliver(from: SimTransport, target: SimTransport, pair: Pair, dir: string, bytes: Uint8Array, envelope: Envelope): void {
    const to = target.node;
    const arrival = Math.max(this.scheduler.now + this.latency(), pair.lastArrival.get(dir) ?? 0);
    pair.lastArrival.set(dir, arrival);
    const epoch = pair.epoch;
    const label = `${this.name(from.node)}->${this.name(to)} ${describe(envelope)}`;
    this.scheduler.schedule(
      arrival - this.scheduler.now,
      label,
      () => {
        if (pair.epoch !== epoch || target.dead) return;
        target.handlers.onEnvelope(from.node, target.codec.decode(bytes) as Envelope, Role.Node);
      },
      target.simNode,
    );
  }

  private tellUp(side: SimTransport, peer: string): void {
    this.scheduler.schedule(0, null, () => side.dead || side.handlers.onPeerUp(peer), side.simNode);
  }

  private dialFailed(from: SimTransport, to: string, pair: Pair): void {
    if (pair.dialFailing) return;
    pair.dialFailing = true;
    this.scheduler.schedule(
      this.settings.dialFailMs,
      `${this.name(from.node)} dial ${this.name(to)} failed`,
      () => {
        pair.dialFailing = false;
        if (!from.dead && !pair.up) from.handlers.onPeerLost(to, 'connection-lost', 'dial failed: unreachable');
      },
      from.simNode,
    );
  }

  private armDetection(a: string, b: string, pair: Pair): void {
    if (pair.detecting) return;
    pair.detecting = true;
    const epoch = pair.epoch;
    this.scheduler.schedule(this.settings.heartbeatTimeoutMs, null, () => {
      pair.detecting = false;
      if (!pair.up || pair.epoch !== epoch) return;
      const silent =
        !this.canReach(a, b) || !this.canReach(b, a) || this.endpoints.get(a)?.simNode.paused === true || this.endpoints.get(b)?.simNode.paused === true;
      if (silent) this.down(a, b, pair, 'heartbeat-timeout', 'no heartbeat within the timeout');
    });
  }

  private down(a: string, b: string, pair: Pair, reason: PeerLossReason, detail: string): void {
    pair.up = false;
    pair.epoch++;
    pair.lastArrival.clear();
    pair.stalled.clear();
    for (const [side, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      const transport = this.endpoints.get(side);
      if (!transport) continue;
      this.scheduler.schedule(0, `${this.name(side)} lost ${this.name(peer)} (${reason})`, () => transport.dead || transport.handlers.onPeerLost(peer, reason, detail), transport.simNode);
    }
  }
}

export class SimTransport implements SystemTransport {
  dead = false;

  constructor(
    private readonly network: SimNetwork,
    readonly simNode: SimNode,
    readonly node: string,
    readonly uid: string,
    readonly codec: WireCodec,
    readonly handlers: TransportHandlers,
    public log: Logger,
  ) {}

  get associationCount(): number {
    return this.network.connectionCount(this.node);
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.network.crashed(this.node);
  }

  send(node: string, envelope: Envelope): void {
    this.network.send(this, node, envelope);
  }

  async waitForRoom(): Promise<void> {}

  isConnected(node: string): boolean {
    return this.network.isConnected(this.node, node);
  }

  peerUid(node: string): string | null {
    return this.network.peerUid(this.node, node);
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

function describe(envelope: Envelope): string {
  switch (envelope[0]) {
    case EnvelopeKind.Tell: {
      const type = (envelope[2] as { type?: unknown } | null)?.type;
      return `${envelope[1].startsWith('$ask/') ? 'reply' : envelope[1]} ${typeof type === 'string' ? type : 'value'}`;
    }
    case EnvelopeKind.Watch:
      return `watch ${envelope[1]}`;
    case EnvelopeKind.Unwatch:
      return `unwatch ${envelope[1]}`;
    case EnvelopeKind.Terminated:
      return `terminated ${envelope[1]}`;
    case EnvelopeKind.Restarted:
      return `restarted ${envelope[1]}`;
    default:
      return `envelope ${envelope[0]}`;
  }
}
