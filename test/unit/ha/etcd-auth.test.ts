import assert from 'node:assert/strict';
import { loadConfig } from '../../../lib/config.js';
import { ConfigError } from '../../../lib/errors.js';
import { etcdCredentialEnv, etcdCredentialsFromEnv, etcdCredentialsOf } from '../../../lib/ha/etcd-auth.js';
import { createEtcdClient } from '../../../lib/ha/etcd-client.js';

const configError = (key: string) => (err: unknown) => err instanceof ConfigError && err.details['key'] === key;

describe('ha - etcd credentials in the configuration', () => {
  it('reads user, password and TLS files from FLINKISH_ETCD_* like the other keys', () => {
    const env = { FLINKISH_ETCD_USERNAME: 'flink', FLINKISH_ETCD_PASSWORD: 'pw-0123456789', FLINKISH_ETCD_CA_FILE: '/etc/etcd/ca.pem' };
    const credentials = etcdCredentialsOf(loadConfig({ env }));
    assert.deepEqual(credentials, { username: 'flink', password: 'pw-0123456789', caFile: '/etc/etcd/ca.pem' });
    // The launcher hands them on through the same variables.
    assert.deepEqual(etcdCredentialsFromEnv(etcdCredentialEnv(credentials)), credentials);
  });

  it('refuses half-configured credentials, naming the missing key', () => {
    assert.throws(() => loadConfig({ env: { FLINKISH_ETCD_USERNAME: 'flink' } }), configError('etcdPassword'));
    assert.throws(() => loadConfig({ env: { FLINKISH_ETCD_PASSWORD: 'pw-0123456789' } }), configError('etcdUsername'));
    assert.throws(() => loadConfig({ env: { FLINKISH_ETCD_CERT_FILE: '/c.pem' } }), configError('etcdKeyFile'));
  });

  it('names the TLS file it cannot read', () => {
    assert.throws(() => createEtcdClient({ endpoints: ['https://127.0.0.1:1'], caFile: '/nonexistent/ca.pem' }), configError('etcdCaFile'));
  });
});
