/**
 * `flinkish agent`: a small process on each host of a cluster through which `flinkish drill
 * --cluster` injects faults on that host. It listens on its own address, authenticates every
 * connection with the cluster's node secret through the control plane's handshake (on the agent
 * plane, so that no agent proof serves elsewhere), and then serves four requests
 * (scripts/agent/protocol.ts): list the flinkish processes of this host, signal one of them
 * (SIGKILL, SIGSTOP, SIGCONT; only a process that is verifiably ours, see processes.ts),
 * install a partition rule against a peer address (nftables, in the agent's own table, see
 * firewall.ts), and heal (remove them all). Everything else is answered with an error code;
 * a peer whose handshake did not verify gets nothing but the handshake's refusal.
 *
 * Bounds: at most `maxConnections` connections (handshaking ones included), a handshake
 * deadline, 64 KiB frames, a decode budget, a few requests in flight per connection, and at most
 * 64 peers per rule set, each rule expiring by itself.
 */
import net from 'node:net';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../lib/logging.js';
import { formatHostPort } from '../../lib/util/host-address.js';
import { AgentChannel, type ChannelSettings } from './channel.js';
import { AgentError, AgentErrorCode } from './errors.js';
import { Firewall, MAX_RULE_MS } from './firewall.js';
import { listFlinkishProcesses, verifiedProcess } from './processes.js';
import { parseRequest, requestId, type AgentReply, type AgentRequest } from './protocol.js';
import { stopProcess } from '../../lib/util/process-stop.js';

export interface AgentOptions {
  clusterId: string;
  /** The cluster's node secret (at least 16 characters). */
  secret: string;
  /** Address to bind. */
  host: string;
  /** Address the drill dials: the agent's id in the handshake is `advertisedHost:port`. */
  advertisedHost: string;
  /** 0 picks a free port. */
  port: number;
  log: Logger;
  maxConnections?: number;
  handshakeTimeoutMs?: number;
}

export const AGENT_DEFAULT_PORT = 6124;
export const AGENT_MAX_FRAME_BYTES = 64 * 1024;
const MAX_IN_FLIGHT = 4;

export class Agent {
  private readonly channels = new Set<AgentChannel>();
  private readonly log: Logger;

  private constructor(
    private readonly server: net.Server,
    private readonly firewall: Firewall,
    private readonly options: AgentOptions,
    /** `advertisedHost:port`: what the drill dials, and our id in the handshake. */
    readonly address: string,
  ) {
    this.log = options.log.child({ node: address, actor: 'agent' });
  }

  static async start(options: AgentOptions): Promise<Agent> {
    const server = net.createServer();
    server.listen({ host: options.host, port: options.port });
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    let firewall: Firewall;
    try {
      firewall = await Firewall.open(port);
    } catch (err) {
      server.close();
      throw err;
    }
    const agent = new Agent(server, firewall, options, formatHostPort(options.advertisedHost, port));
    server.on('connection', (socket) => agent.accept(socket));
    agent.log.info({ address: agent.address, host: options.host }, 'agent listening');
    return agent;
  }

  private settings(): ChannelSettings {
    return {
      clusterId: this.options.clusterId,
      secret: this.options.secret,
      node: this.address,
      uid: randomUUID(),
      handshakeTimeoutMs: this.options.handshakeTimeoutMs ?? 5000,
      maxFrameBytes: AGENT_MAX_FRAME_BYTES,
      maxDecodedBytes: 1024 * 1024,
    };
  }

  private accept(socket: net.Socket): void {
    if (this.channels.size >= (this.options.maxConnections ?? 16)) {
      socket.destroy(); // a stranger cannot make us hold more
      return;
    }
    const log = this.log;
    let inFlight = 0;
    const channel: AgentChannel = new AgentChannel(socket, false, null, this.settings(), {
      onOpen: (peer) => log.info({ peer: peer.node, remote: channel.remoteAddress }, 'drill connected'),
      onMessage: (value) => {
        if (inFlight >= MAX_IN_FLIGHT) {
          channel.send(errorReply(requestId(value), new AgentError(AgentErrorCode.Busy, `at most ${MAX_IN_FLIGHT} requests in flight per connection`)));
          return;
        }
        inFlight++;
        void this.serve(value, channel).finally(() => inFlight--);
      },
      onClose: (reason, code) => {
        this.channels.delete(channel);
        if (code !== null) log.warn({ remote: channel.remoteAddress, code, reason }, 'agent connection closed');
      },
    });
    this.channels.add(channel);
  }

  private async serve(value: unknown, channel: AgentChannel): Promise<void> {
    const parsed = parseRequest(value);
    if (!parsed.ok) {
      const code = parsed.kind === 'unknown' ? AgentErrorCode.UnknownRequest : AgentErrorCode.BadRequest;
      this.log.warn({ peer: channel.peer?.node, code, reason: parsed.reason }, 'request refused');
      channel.send(errorReply(requestId(value), new AgentError(code, parsed.reason)));
      return;
    }
    try {
      channel.send(await this.handle(parsed.request, channel.peer!.node));
    } catch (err) {
      const error = err instanceof AgentError ? err : new AgentError(AgentErrorCode.FirewallFailed, (err as Error).message);
      this.log.warn({ peer: channel.peer?.node, request: parsed.request.t, code: error.code, reason: error.message }, 'request failed');
      channel.send(errorReply(parsed.request.id, error));
    }
  }

  private async handle(request: AgentRequest, peer: string): Promise<AgentReply> {
    const log = this.log;
    switch (request.t) {
      case 'list':
        return { t: 'processes', id: request.id, processes: listFlinkishProcesses() };
      case 'signal': {
        const role = verifiedProcess(request.pid, request.startTicks);
        if (role === null) {
          throw new AgentError(AgentErrorCode.NotFlinkish, `pid ${request.pid} (started at ${request.startTicks}) is not a flinkish process of this host: the agent signals only Masters and TaskExecutors it lists`, {
            details: { pid: request.pid },
          });
        }
        try {
          // "signaled" for a SIGSTOP means stopped: the kernel stops the threads when they next run.
          if (request.signal === 'SIGSTOP') await stopProcess(request.pid);
          else process.kill(request.pid, request.signal);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
          throw new AgentError(AgentErrorCode.NotFlinkish, `pid ${request.pid} is gone`, { cause: err, details: { pid: request.pid } });
        }
        log.info({ peer, pid: request.pid, role, signal: request.signal }, 'signaled');
        return { t: 'signaled', id: request.id, pid: request.pid, signal: request.signal };
      }
      case 'partition': {
        const expiresInMs = await this.firewall.partition(request.peer, request.direction, request.expiresInMs ?? MAX_RULE_MS);
        log.info({ peer, cut: request.peer, direction: request.direction, expiresInMs }, 'partition installed');
        return { t: 'partitioned', id: request.id, peer: request.peer, direction: request.direction, expiresInMs };
      }
      case 'heal': {
        const removed = await this.firewall.heal();
        log.info({ peer, removed }, 'healed');
        return { t: 'healed', id: request.id, removed };
      }
    }
  }

  /** Close every connection, remove the rules and the table, stop listening. */
  async stop(): Promise<void> {
    for (const channel of this.channels) channel.close('agent stopping', null);
    this.server.close();
    await this.firewall.close();
  }
}

function errorReply(id: number | null, err: AgentError): AgentReply {
  return { t: 'error', id, code: err.code, message: err.message };
}
