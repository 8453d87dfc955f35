import assert from 'node:assert/strict';
import { loadConfig } from '../../../lib/config.js';
import { ConfigError } from '../../../lib/errors.js';
import { resolveOptions } from '../../../lib/actor/options.js';
import { allowedHostNames } from '../../../lib/rest/http.js';
import { formatHostPort, hostProblem, isWildcardHost, parseHostPort, resolveHosts } from '../../../lib/util/host-address.js';

const SECRET = 'host-address-test-secret-0123';

/** The ConfigError `fn` throws, asserting it names `key`. */
function configError(fn: () => unknown, key: string): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.details['key'], key, err.message);
    return err;
  }
  assert.fail(`expected a ConfigError naming '${key}'`);
}

describe('addresses - hosts to bind and to advertise', () => {
  it('accepts IPv4, IPv6 (bare or bracketed) and host names', () => {
    for (const host of ['127.0.0.1', '198.18.0.2', '0.0.0.0', '::1', '[::1]', '::', 'fe80::1', 'localhost', 'te-1.cluster.example.com', 'host.']) {
      assert.equal(hostProblem(host), null, host);
    }
  });

  it('names what is wrong with a bad host: a port, a URL, a bad IP, bad characters, emptiness', () => {
    const cases: Array<[string, RegExp]> = [
      ['127.0.0.1:6123', /without a port.*ports have their own keys/],
      ['[::1]:6123', /without a port/],
      ['example.com:80', /without a port/],
      ['http://127.0.0.1', /not a URL/],
      ['127.0.0.256', /not a valid IPv4/],
      ['127.1', /not a valid IPv4/],
      ['fe80::zz', /not a valid IPv6/],
      ['under_score.example', /IP address or a host name/],
      ['-leading.example', /IP address or a host name/],
      ['a b', /whitespace/],
      ['', /must not be empty/],
    ];
    for (const [host, pattern] of cases) assert.match(hostProblem(host) ?? 'accepted', pattern, host);
  });

  it('knows the wildcards in any spelling, and nothing else', () => {
    for (const host of ['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0', '::0']) assert.equal(isWildcardHost(host), true, host);
    for (const host of ['127.0.0.1', '::1', 'localhost', '0.0.0.1', 'zero.example']) assert.equal(isWildcardHost(host), false, host);
  });

  it('advertises the bind host by default, and refuses a wildcard bind without an advertised host', () => {
    assert.deepEqual(resolveHosts('127.0.0.2', undefined), { host: '127.0.0.2', advertisedHost: '127.0.0.2' });
    assert.deepEqual(resolveHosts('[::1]', ''), { host: '::1', advertisedHost: '::1' });
    assert.deepEqual(resolveHosts('0.0.0.0', '198.18.0.2'), { host: '0.0.0.0', advertisedHost: '198.18.0.2' });
    assert.match(configError(() => resolveHosts('0.0.0.0', undefined), 'advertisedHost').message, /host is 0\.0\.0\.0, every interface.*set advertisedHost/);
    assert.match(configError(() => resolveHosts('::', ''), 'advertisedHost').message, /every interface/);
    assert.match(configError(() => resolveHosts('127.0.0.1', '0.0.0.0'), 'advertisedHost').message, /not the wildcard/);
    assert.match(configError(() => resolveHosts('127.0.0.1', '127.0.0.1:7000'), 'advertisedHost').message, /without a port/);
    assert.match(configError(() => resolveHosts('127.0.0.1:7000', undefined), 'host').message, /without a port/);
  });

  it('writes and reads host:port, with IPv6 in brackets', () => {
    assert.equal(formatHostPort('127.0.0.2', 7000), '127.0.0.2:7000');
    assert.equal(formatHostPort('::1', 7000), '[::1]:7000');
    assert.equal(formatHostPort('[::1]', 7000), '[::1]:7000');
    assert.equal(formatHostPort('te-1.example', 7000), 'te-1.example:7000');
    assert.deepEqual(parseHostPort('[::1]:7000'), { host: '::1', port: 7000 });
    assert.deepEqual(parseHostPort('198.18.0.2:6123'), { host: '198.18.0.2', port: 6123 });
    assert.deepEqual(parseHostPort('localhost:1'), { host: 'localhost', port: 1 });
    for (const bad of ['127.0.0.1', '127.0.0.1:0', '127.0.0.1:65536', '::1:7000', '[localhost]:7000', 'client-abc', ':7000', 'a b:7000', '127.0.0.1:70000']) {
      assert.equal(parseHostPort(bad), null, bad);
    }
  });
});

describe('addresses - configuration keys host and advertisedHost', () => {
  it('reads both from FLINKISH_HOST / FLINKISH_ADVERTISED_HOST, flags over env, advertised defaulting to host', () => {
    const fromEnv = loadConfig({ env: { FLINKISH_HOST: '0.0.0.0', FLINKISH_ADVERTISED_HOST: '198.18.0.3' } });
    assert.deepEqual([fromEnv.host, fromEnv.advertisedHost], ['0.0.0.0', '198.18.0.3']);
    const byFlag = loadConfig({ env: { FLINKISH_HOST: '0.0.0.0', FLINKISH_ADVERTISED_HOST: '198.18.0.3' }, flags: { host: '198.18.0.2', advertisedHost: undefined } });
    assert.deepEqual([byFlag.host, byFlag.advertisedHost], ['198.18.0.2', '198.18.0.3']);
    const defaulted = loadConfig({ env: {}, flags: { host: '127.0.0.2' } });
    assert.deepEqual([defaulted.host, defaulted.advertisedHost], ['127.0.0.2', '127.0.0.2']);
    const loopback = loadConfig({ env: {} });
    assert.deepEqual([loopback.host, loopback.advertisedHost], ['127.0.0.1', '127.0.0.1']);
  });

  it('refuses a wildcard host without advertisedHost, naming the key, its variable and its flag', () => {
    const err = configError(() => loadConfig({ env: { FLINKISH_HOST: '0.0.0.0' } }), 'advertisedHost');
    assert.match(err.message, /FLINKISH_ADVERTISED_HOST or --advertised-host/);
    configError(() => loadConfig({ env: { FLINKISH_HOST: '::' } }), 'advertisedHost');
  });

  it('refuses a port where a host belongs, and a masterAddress without a dialable host and port', () => {
    assert.match(configError(() => loadConfig({ env: {}, flags: { host: '198.18.0.2:6123' } }), 'host').message, /without a port/);
    configError(() => loadConfig({ env: { FLINKISH_ADVERTISED_HOST: 'http://te-1' } }), 'advertisedHost');
    for (const masterAddress of ['127.0.0.1', '127.0.0.1:0', 'bad_host:6123', '::1:6123']) {
      configError(() => loadConfig({ env: {}, flags: { masterAddress } }), 'masterAddress');
    }
    assert.match(configError(() => loadConfig({ env: {}, flags: { masterAddress: '0.0.0.0:6123' } }), 'masterAddress').message, /wildcard/);
    assert.equal(loadConfig({ env: {}, flags: { masterAddress: '[::1]:6123' } }).masterAddress, '[::1]:6123');
  });
});

describe('addresses - Host names the REST and metrics servers answer', () => {
  it('answers the advertised host of a wildcard bind, never the wildcard itself', () => {
    const names = allowedHostNames('0.0.0.0', ['master-1.example', '198.18.0.2']);
    assert.ok(names.has('master-1.example') && names.has('198.18.0.2') && names.has('localhost'));
    assert.ok(!names.has('0.0.0.0'));
    assert.ok(!allowedHostNames('::', []).has('::'));
  });
});

describe('addresses - actor system options', () => {
  it('advertises the bind host unless told otherwise, and refuses a wildcard bind without an advertised host', () => {
    const o = resolveOptions({ clusterId: 'c', secret: SECRET, host: '127.0.0.2' });
    assert.deepEqual([o.host, o.advertisedHost], ['127.0.0.2', '127.0.0.2']);
    const wildcard = resolveOptions({ clusterId: 'c', secret: SECRET, host: '0.0.0.0', advertisedHost: '198.18.0.2' });
    assert.deepEqual([wildcard.host, wildcard.advertisedHost], ['0.0.0.0', '198.18.0.2']);
    configError(() => resolveOptions({ clusterId: 'c', secret: SECRET, host: '0.0.0.0' }), 'advertisedHost');
    configError(() => resolveOptions({ clusterId: 'c', secret: SECRET, host: '127.0.0.1:80' }), 'host');
  });
});
