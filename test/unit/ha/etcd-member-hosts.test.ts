import assert from 'node:assert/strict';
import { startEtcdCluster } from '../../../lib/ha/index.js';
import { HaErrorCode } from '../../../lib/ha/errors.js';
import { RuntimeError } from '../../../lib/errors.js';

describe('etcd server - member hosts', () => {
  // Rejected before any process starts: a binary that does not exist is never reached.
  const binary = '/nonexistent/etcd';

  it('needs one host per member', async () => {
    await assert.rejects(
      startEtcdCluster({ members: 3, binary, hosts: [{ address: '198.18.0.2' }, { address: '198.18.0.3' }] }),
      (err: RuntimeError) => err.code === HaErrorCode.EtcdStartFailed && err.message.includes('3 distinct addresses'),
    );
  });

  it('needs distinct addresses, since members on their own hosts share the standard ports', async () => {
    await assert.rejects(
      startEtcdCluster({ members: 3, binary, hosts: [{ address: '198.18.0.2' }, { address: '198.18.0.2' }, { address: '198.18.0.3' }] }),
      (err: RuntimeError) => err.code === HaErrorCode.EtcdStartFailed,
    );
  });
});
