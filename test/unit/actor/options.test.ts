import assert from 'node:assert/strict';
import { resolveOptions } from '../../../lib/actor/options.js';
import { ConfigError } from '../../../lib/errors.js';

const valid = { clusterId: 'c', secret: 'sixteen-chars-ok' };

function rejects(key: string, options: Record<string, unknown>): void {
  assert.throws(
    () => resolveOptions({ ...valid, ...options } as never),
    (err: unknown) => err instanceof ConfigError && err.code === 'INVALID_CONFIG' && err.message.includes(`'${key}'`),
    `expected a ConfigError naming ${key}`,
  );
}

describe('actor - system options', () => {
  it('fills in defaults', () => {
    const o = resolveOptions(valid);
    assert.equal(o.host, '127.0.0.1');
    assert.equal(o.port, 0);
    assert.equal(o.heartbeatIntervalMs, 1000);
    assert.equal(o.supervision.strategy, 'restart');
  });

  it('names the bad key and what is allowed', () => {
    rejects('secret', { secret: 'short' });
    rejects('clusterId', { clusterId: '' });
    rejects('port', { port: 70000 });
    rejects('heartbeatTimeoutMs', { heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 500 });
    rejects('maxFrameBytes', { maxFrameBytes: 10 });
    rejects('reconnect.maxDelayMs', { reconnect: { initialDelayMs: 100, maxDelayMs: 10 } });
    rejects('supervision.strategy', { supervision: { strategy: 'escalate' } });
    rejects('tls.ca', { tls: { cert: 'x', key: 'y' } });
    rejects('clientSecret', { clientSecret: 'short' });
    rejects('clientSecret', { clientSecret: valid.secret });
    rejects('secret', { secret: undefined });
    rejects('listen', { secret: undefined, clientSecret: 'client-secret-0123' });
  });

  it('makes a system with only the client secret a client', () => {
    const o = resolveOptions({ clusterId: 'c', clientSecret: 'client-secret-0123', listen: false });
    assert.equal(o.secret, null);
    assert.equal(o.clientSecret, 'client-secret-0123');
  });
});
