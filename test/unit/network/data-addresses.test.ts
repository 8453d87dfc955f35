import assert from 'node:assert/strict';
import { createLogger } from '../../../lib/logging.js';
import { DataTransport } from '../../../lib/network/data-transport.js';
import type { DataMessage } from '../../../lib/network/messages.js';
import { waitFor } from '../../support/wait.js';

const log = createLogger({ level: 'silent' });
const SECRET = 'data-addresses-secret-0123';

describe('network - data addresses: bound on one address, advertised as another', () => {
  const open: DataTransport[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.stop()));
  });

  function transport(node: string, host: string, advertisedHost: string | undefined, received: DataMessage[], lost: string[] = []): DataTransport {
    const t = new DataTransport({
      node,
      host,
      ...(advertisedHost ? { advertisedHost } : {}),
      clusterId: 'c',
      secret: SECRET,
      log,
      onMessage: (m) => received.push(m),
      onPeerLost: (p, reason) => lost.push(`${p}: ${reason}`),
    });
    open.push(t);
    return t;
  }

  it('announces the advertised host, and peers reach it there', async () => {
    const atB: DataMessage[] = [];
    const a = transport('a', '127.0.0.2', undefined, []);
    const b = transport('b', '127.0.0.1', 'localhost', atB);
    const [addrA, addrB] = await Promise.all([a.start(), b.start()]);
    assert.match(addrA, /^127\.0\.0\.2:\d+$/);
    assert.match(addrB, /^localhost:\d+$/);
    a.send({ taskExecutorId: 'b', dataAddress: addrB }, { t: 'credit', ch: 'x', n: 1 });
    await waitFor('the credit at b', () => atB.length === 1);
  });

  it('a data address that is not host:port fails the peer, without a socket or a throw', async () => {
    const lost: string[] = [];
    const a = transport('a', '127.0.0.1', undefined, [], lost);
    await a.start();
    a.send({ taskExecutorId: 'b', dataAddress: 'nowhere' }, { t: 'credit', ch: 'x', n: 1 });
    await waitFor('b reported lost', () => lost.length === 1);
    assert.match(lost[0]!, /^b: data address 'nowhere' is not host:port$/);
  });
});
