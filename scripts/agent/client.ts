/**
 * The drill's side of the agent protocol: dial an agent, authenticate with the cluster's node
 * secret (the agent must prove the same, under the id the drill dialed), send requests and
 * await their replies. An `error` reply rejects with an {@link AgentError} of its code.
 */
import net from 'node:net';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { parseHostPort } from '../../lib/util/host-address.js';
import { AuthFailedError, HandshakeCode, HandshakeRefusedError } from '../../lib/transport/errors.js';
import { AgentChannel } from './channel.js';
import { AgentError, AgentErrorCode } from './errors.js';
import type { AgentProcess, AgentReply, AgentSignal, PartitionDirection } from './protocol.js';

export interface AgentClientOptions {
  clusterId: string;
  secret: string;
  /** Deadline of the connection and its handshake, and of each reply (default 10 s). */
  timeoutMs?: number;
}

type Pending = { resolve(reply: AgentReply): void; reject(err: Error): void; timer: NodeJS.Timeout };

export class AgentClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedWith: Error | null = null;

  private constructor(
    readonly address: string,
    private readonly channel: AgentChannel,
    private readonly timeoutMs: number,
  ) {}

  static async connect(address: string, options: AgentClientOptions): Promise<AgentClient> {
    const target = parseHostPort(address);
    if (!target) throw new AgentError(AgentErrorCode.BadRequest, `agent address must be host:port, got '${address}'`);
    const timeoutMs = options.timeoutMs ?? 10_000;
    const socket = net.connect({ host: target.host, port: target.port });
    let client: AgentClient | null = null;
    let timedOut = false;
    return new Promise<AgentClient>((resolve, reject) => {
      const timer = setTimeout(() => {
        timedOut = true;
        channel.close(`no handshake with the agent at ${address} within ${timeoutMs} ms`, null);
      }, timeoutMs);
      const channel = new AgentChannel(
        socket,
        true,
        address,
        {
          clusterId: options.clusterId,
          secret: options.secret,
          node: `drill-${hostname()}-${process.pid}`,
          uid: randomUUID(),
          handshakeTimeoutMs: timeoutMs,
          maxFrameBytes: 4 * 1024 * 1024,
          maxDecodedBytes: 64 * 1024 * 1024,
        },
        {
          onOpen: () => {
            clearTimeout(timer);
            client = new AgentClient(address, channel, timeoutMs);
            resolve(client);
          },
          onMessage: (value) => client?.onReply(value as AgentReply),
          onClose: (reason, code) => {
            clearTimeout(timer);
            const err =
              code === HandshakeCode.AuthFailed
                ? new AuthFailedError(address, options.clusterId, 'node', reason)
                : code !== null && client === null
                  ? new HandshakeRefusedError(address, options.clusterId, code, reason)
                  : new AgentError(timedOut ? AgentErrorCode.Timeout : AgentErrorCode.ConnectionClosed, `agent at ${address}: ${reason}${client ? '' : ' (is `flinkish agent` running there, with this cluster id?)'}`);
            if (client) client.fail(err);
            else reject(err);
          },
        },
      );
    });
  }

  list(): Promise<AgentProcess[]> {
    return this.request({ t: 'list' }).then((r) => (r as Extract<AgentReply, { t: 'processes' }>).processes);
  }

  async signal(proc: Pick<AgentProcess, 'pid' | 'startTicks'>, signal: AgentSignal): Promise<void> {
    await this.request({ t: 'signal', pid: proc.pid, startTicks: proc.startTicks, signal });
  }

  async partition(peer: string, direction: PartitionDirection, expiresInMs?: number): Promise<void> {
    await this.request({ t: 'partition', peer, direction, ...(expiresInMs === undefined ? {} : { expiresInMs }) });
  }

  heal(): Promise<number> {
    return this.request({ t: 'heal' }).then((r) => (r as Extract<AgentReply, { t: 'healed' }>).removed);
  }

  /** Send any request (tests send malformed ones); resolves with its reply, rejects on an `error` reply. */
  request(body: Record<string, unknown>): Promise<AgentReply> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AgentError(AgentErrorCode.Timeout, `agent at ${this.address}: no reply to ${String(body['t'])} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.channel.send({ ...body, id });
    });
  }

  close(): void {
    this.channel.close('closed by the drill', null);
  }

  private onReply(reply: AgentReply): void {
    const id = typeof reply?.id === 'number' ? reply.id : null;
    const pending = id === null ? undefined : this.pending.get(id);
    if (!pending) return; // an answer to a request that timed out
    this.pending.delete(id!);
    clearTimeout(pending.timer);
    if (reply.t === 'error') pending.reject(new AgentError(reply.code, `agent at ${this.address}: ${reply.message}`, { details: { code: reply.code } }));
    else pending.resolve(reply);
  }

  private fail(err: Error): void {
    this.closedWith = err;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(err);
      this.pending.delete(id);
    }
  }
}
