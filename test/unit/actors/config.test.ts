import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { configDefaults, envName, loadConfig, requireClientSecret, requireSecret, s3SettingsOf } from '../../../lib/config.js';
import { ConfigError } from '../../../lib/errors.js';
import { useTempDirs } from '../../support/temp-dirs.js';

describe('config - loading and validation', () => {
  const tempDir = useTempDirs();
  it('uses defaults < file < env < flags', () => {
    const dir = tempDir('cfg');
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ slots: 3, slotMemoryMb: 64, defaultParallelism: 2 }));
    const c = loadConfig({ file, env: { FLINKISH_SLOT_MEMORY_MB: '128', FLINKISH_DEFAULT_PARALLELISM: '4' }, flags: { defaultParallelism: 8 } });
    assert.equal(c.slots, 3);
    assert.equal(c.slotMemoryMb, 128);
    assert.equal(c.defaultParallelism, 8);
    assert.equal(c.heartbeatIntervalMs, configDefaults.heartbeatIntervalMs);
  });

  it("puts the local cluster's values below every other source, and only flags that were given override them", () => {
    const local = { masterAddress: '127.0.0.1:7000', secret: 'l'.repeat(48), clusterId: 'local-1', etcdEndpoints: ['http://127.0.0.1:2400'] };
    const unsetFlags = { masterAddress: undefined, secret: undefined, clusterId: undefined, etcdEndpoints: undefined, logLevel: undefined };
    const c = loadConfig({ env: {}, local, flags: unsetFlags });
    assert.deepEqual([c.masterAddress, c.secret, c.clusterId, c.etcdEndpoints], [local.masterAddress, local.secret, 'local-1', local.etcdEndpoints]);
    const secret = loadConfig({ env: { FLINKISH_SECRET: 'e'.repeat(16) }, local, flags: { ...unsetFlags, clusterId: 'flag-id' } });
    assert.deepEqual([secret.secret, secret.clusterId, secret.etcdEndpoints], ['e'.repeat(16), 'flag-id', local.etcdEndpoints]);
  });

  it('ignores the local cluster when another source names a cluster, so that its secret goes nowhere else', () => {
    const local = { masterAddress: '127.0.0.1:7000', secret: 'l'.repeat(48), clusterId: 'local-1', etcdEndpoints: ['http://127.0.0.1:2400'] };
    const byFlag = loadConfig({ env: {}, local, flags: { etcdEndpoints: 'http://127.0.0.1:2500' } });
    assert.deepEqual([byFlag.secret, byFlag.clusterId, byFlag.etcdEndpoints], ['', configDefaults.clusterId, ['http://127.0.0.1:2500']]);
    const byEnv = loadConfig({ env: { FLINKISH_MASTER_ADDRESS: '127.0.0.1:7100' }, local });
    assert.deepEqual([byEnv.secret, byEnv.masterAddress, byEnv.etcdEndpoints], ['', '127.0.0.1:7100', []]);
  });

  it('storage: checkpointDir and savepointDir take a path, file:// or s3:// URL; S3 keys from env, checked', () => {
    const c = loadConfig({
      env: { FLINKISH_CHECKPOINT_DIR: 's3://ckpt-bucket/prod/', FLINKISH_SAVEPOINT_DIR: 'file:///srv/savepoints', FLINKISH_S3_ENDPOINT: 'http://127.0.0.1:9000', FLINKISH_S3_PATH_STYLE: 'true' },
    });
    assert.equal(c.checkpointDir, 's3://ckpt-bucket/prod');
    assert.equal(c.savepointDir, '/srv/savepoints');
    assert.deepEqual(s3SettingsOf(c), { endpoint: 'http://127.0.0.1:9000', region: '', pathStyle: true });
    assert.equal(loadConfig({ env: {} }).s3PathStyle, false);
    const bad: Array<[Record<string, string>, string]> = [
      [{ FLINKISH_CHECKPOINT_DIR: 'gs://bucket/x' }, 'checkpointDir'],
      [{ FLINKISH_SAVEPOINT_DIR: 's3://Bad_Bucket/x' }, 'savepointDir'],
      [{ FLINKISH_S3_PATH_STYLE: 'yes' }, 's3PathStyle'],
      [{ FLINKISH_S3_ENDPOINT: 'minio:9000' }, 's3Endpoint'],
    ];
    for (const [env, key] of bad) {
      assert.throws(() => loadConfig({ env }), (err: Error) => err instanceof ConfigError && err.message.includes(key), JSON.stringify(env));
    }
  });

  it('maps keys to environment variable names', () => {
    assert.equal(envName('slotMemoryMb'), 'FLINKISH_SLOT_MEMORY_MB');
    assert.equal(envName('etcdEndpoints'), 'FLINKISH_ETCD_ENDPOINTS');
  });

  it('names the bad key, its source and what is allowed', () => {
    const bad = (options: Parameters<typeof loadConfig>[0], pattern: RegExp) =>
      assert.throws(() => loadConfig({ env: {}, ...options }), (err: unknown) => err instanceof ConfigError && pattern.test(err.message));
    bad({ env: { FLINKISH_SLOTS: 'two' } }, /'slots': must be an integer, got "two" \(from FLINKISH_SLOTS\)/);
    bad({ flags: { slots: 0 } }, /'slots': must be between 1 and 1024/);
    bad({ flags: { logLevel: 'loud' } }, /'logLevel': must be one of/);
    bad({ flags: { masterAddress: 'nohost' } }, /'masterAddress': must be host:port/);
    bad({ flags: { etcdEndpoints: 'ftp://x' } }, /'etcdEndpoints'/);
    bad({ flags: { heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 1000 } }, /'heartbeatTimeoutMs'/);
    // Tasks kept through a leader change must outlive the new leader's reconciliation.
    bad({ flags: { reconcileTimeoutMs: 20_000 } }, /'adoptionTimeoutMs': must be between 20001/);
    bad({ env: { FLINKISH_RECONCILE_TIMEOUT_MS: '0' } }, /'reconcileTimeoutMs'/);
    const dir = tempDir('cfg');
    writeFileSync(path.join(dir, 'typo.json'), JSON.stringify({ slotz: 2 }));
    bad({ file: path.join(dir, 'typo.json') }, /'slotz': unknown key/);
    writeFileSync(path.join(dir, 'broken.json'), '{ not json');
    bad({ file: path.join(dir, 'broken.json') }, /cannot read .* as JSON/);
  });

  it('requires a secret long enough to join a cluster', () => {
    assert.throws(() => requireSecret(loadConfig({ env: {} })), /'secret'/);
    assert.equal(requireSecret(loadConfig({ env: { FLINKISH_SECRET: 'x'.repeat(16) } })), 'x'.repeat(16));
  });

  it('keeps the client secret apart from the node secret, validated alike', () => {
    assert.throws(() => requireClientSecret(loadConfig({ env: { FLINKISH_SECRET: 'x'.repeat(16) } })), /'clientSecret'.*FLINKISH_CLIENT_SECRET/);
    assert.throws(() => loadConfig({ env: { FLINKISH_CLIENT_SECRET: 'short' } }), /'clientSecret': must be at least 16/);
    assert.throws(() => loadConfig({ env: { FLINKISH_SECRET: 'x'.repeat(16), FLINKISH_CLIENT_SECRET: 'x'.repeat(16) } }), /'clientSecret': must differ/);
    assert.equal(requireClientSecret(loadConfig({ env: { FLINKISH_CLIENT_SECRET: 'c'.repeat(16) } })), 'c'.repeat(16));
  });
});
