/**
 * etcd as users run it: started with its default flags (`--grpc-keepalive-min-time` 5 s),
 * our client's keepalive pings must not be refused. etcd counts a ping that comes sooner than
 * the minimum after the previous one as a strike and closes the connection on the third
 * (GOAWAY too_many_pings), which grpc-js reports as "rejected by server because of excess
 * pings". A control client that pings every 2 s shows that this test sees the refusal.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { launch, killAll, type Proc } from '../support/launcher.js';
import { useEtcd } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';
import { DEFAULT_KEEPALIVE_MS } from '../../lib/ha/etcd-client.js';
import { etcdCredentialEnv } from '../../lib/ha/etcd-auth.js';

const REFUSED = /excess pings|GOAWAY/;
const pingsAnswered = (p: Proc): number => p.output.filter((line) => line.includes('Received ping response')).length;

describe('ha etcd defaults (real etcd with its default keepalive policy)', function () {
  this.timeout(90_000);
  const etcd = useEtcd(1);
  after(() => killAll());

  it('keeps an idle watch open across pings, where a client pinging every 2 s is refused', async () => {
    const pid = etcd.cluster.members[0]!.pid!;
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.ok(!args.some((a) => a.startsWith('--grpc-keepalive')), `etcd runs with its default keepalive policy: ${args.join(' ')}`);
    const env = { ETCD_ENDPOINTS: etcd.cluster.endpoints.join(','), ...etcdCredentialEnv(etcd.cluster.credentials), GRPC_TRACE: 'keepalive', GRPC_VERBOSITY: 'DEBUG' };
    const [ours, control] = await Promise.all([
      launch('test/fixtures/idle-watch.js', { env, name: 'idle-watch' }),
      launch('test/fixtures/idle-watch.js', { env: { ...env, KEEPALIVE_MS: '2000' }, name: 'idle-watch-2s' }),
    ]);
    await waitFor('the 2 s control client to be refused', () => control.output.some((l) => REFUSED.test(l)), { timeoutMs: 30_000, intervalMs: 100 });
    // Four answered pings: more than the three strikes that etcd allows a client pinging too often.
    await waitFor('four answered pings of our client', () => pingsAnswered(ours) >= 4, { timeoutMs: 6 * DEFAULT_KEEPALIVE_MS, intervalMs: 100 });
    assert.deepEqual(ours.output.filter((l) => REFUSED.test(l)), [], 'our client was never refused');
    assert.ok(DEFAULT_KEEPALIVE_MS > 5000, "the default stays above etcd's default --grpc-keepalive-min-time");
  });
});
