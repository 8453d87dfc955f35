/**
 * etcd with authentication (issue 11, finding 9): the launcher turns auth on, a local process
 * without the credentials can neither read, write nor delete our keys, and a cluster given the
 * credentials elects leaders and runs jobs.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { EtcdAuthenticationFailedError, GRPCInvalidArgumentError, GRPCUnavailableError, type Etcd3 } from 'etcd3';
import { useEtcd } from '../support/etcd.js';
import { killAll, type Proc } from '../support/launcher.js';
import { jobPath } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';
import { createEtcdClient, describeEtcdCredentials, EtcdHaServices, startEtcdCluster, type EtcdCluster } from '../../lib/ha/index.js';
import { makeTestPki, type TestPki } from '../support/certs.js';
import { startHaCluster, type HaCluster } from '../../scripts/support/local-ha.js';
import type { ClusterClient } from '../../lib/client/cluster-client.js';

describe('etcd authentication', function () {
  this.timeout(90_000);
  const etcd = useEtcd(1);
  const clients: Etcd3[] = [];
  const client = (options: Parameters<typeof createEtcdClient>[0]): Etcd3 => {
    const c = createEtcdClient({ ...options, requestTimeoutMs: 3000 });
    clients.push(c);
    return c;
  };
  after(() => clients.forEach((c) => c.close()));

  it('refuses reads, writes and deletes from a client without credentials or with a wrong password', async () => {
    const owner = client(etcd.cluster.clientOptions);
    await owner.put('/flinkish/secret-graph').value('code');
    const { endpoints, username } = etcd.cluster.clientOptions;
    assert.equal(username, 'root');
    // etcd answers a request without a user as invalid ("user name is empty"), a wrong password
    // as failed authentication; the same calls with the credentials succeed (below).
    const strangers = [
      { stranger: client({ endpoints }), refusal: GRPCInvalidArgumentError },
      { stranger: client({ endpoints, username: 'root', password: 'not-the-password-0123' }), refusal: EtcdAuthenticationFailedError },
    ];
    for (const { stranger, refusal } of strangers) {
      await assert.rejects(stranger.get('/flinkish/secret-graph').string(), refusal);
      await assert.rejects(stranger.getAll().prefix('/flinkish/').keys(), refusal);
      await assert.rejects(stranger.put('/flinkish/secret-graph').value('evil').exec(), refusal);
      await assert.rejects(stranger.delete().key('/flinkish/secret-graph').exec(), refusal);
    }
    assert.equal(await owner.get('/flinkish/secret-graph').string(), 'code');
    await owner.delete().key('/flinkish/secret-graph').exec();
  });

  it('names the kind of credentials in logs, never the password', () => {
    const described = JSON.stringify(describeEtcdCredentials(etcd.cluster.credentials));
    assert.ok(!described.includes(etcd.cluster.credentials.password!), described);
    assert.match(described, /user root/);
  });
});

describe('etcd authentication - an HA cluster with the credentials', function () {
  this.timeout(120_000);
  let cluster: HaCluster | undefined;
  after(async () => {
    await cluster?.stop();
    await killAll();
  });

  it('elects a leader, runs a job, and elects a standby when the leader dies', async () => {
    cluster = await startHaCluster({ masters: 2, taskExecutors: 1, slots: 2 });
    assert.ok(cluster.env['FLINKISH_ETCD_PASSWORD'], 'the launcher hands the password to the processes it starts');
    const client: ClusterClient = await cluster.client();
    const leaderOf = (not?: Proc): Promise<Proc> =>
      waitFor('a leading Master', () => {
        const leader = cluster!.leader(client);
        return leader && leader !== not ? leader : undefined;
      }, { timeoutMs: 20_000 });
    const first = await leaderOf();
    const jobId = await client.submitFile(jobPath('wordcount'), { args: { lines: 20 } });
    assert.equal((await client.waitForResult(jobId)).state, 'finished');
    first.kill('SIGKILL');
    await leaderOf(first);
    // The processes name the kind of credentials they use, never the password.
    const password = cluster.env['FLINKISH_ETCD_PASSWORD']!;
    for (const proc of [...cluster.masters, ...cluster.taskExecutors]) {
      assert.ok(proc.output.some((line) => line.includes('user root')), `${proc.name} logs its etcd credential kind`);
      assert.ok(!proc.output.some((line) => line.includes(password)), `${proc.name} never logs the etcd password`);
    }
    // The etcd data dir stays private to its owner.
    assert.equal(statSync(path.join(cluster.workDir, 'etcd', 'etcd0')).mode & 0o777, 0o700);
  });
});

describe('etcd over TLS with client certificates', function () {
  this.timeout(60_000);
  let pki: TestPki;
  let etcd: EtcdCluster;
  const closables: Array<() => unknown> = [];
  before(async () => {
    pki = makeTestPki();
    etcd = await startEtcdCluster({
      members: 1,
      auth: false,
      tls: { caFile: pki.caFile, certFile: pki.serverCertFile, keyFile: pki.serverKeyFile, clientCertFile: pki.clientCertFile, clientKeyFile: pki.clientKeyFile },
    });
  });
  after(async () => {
    for (const close of closables) await close();
    await etcd?.stop();
    pki?.remove();
  });

  it('refuses a client without a certificate; one with the certificate elects a leader and writes as leader', async () => {
    assert.match(etcd.endpoints[0]!, /^https:/);
    const stranger = createEtcdClient({ endpoints: etcd.endpoints, caFile: pki.caFile, requestTimeoutMs: 3000 });
    closables.push(() => stranger.close());
    await assert.rejects(stranger.get('/flinkish/x').string(), GRPCUnavailableError);
    await assert.rejects(stranger.put('/flinkish/x').value('evil').exec(), GRPCUnavailableError);

    const ha = new EtcdHaServices({ ...etcd.clientOptions, clusterId: 'tls' });
    closables.push(() => ha.close());
    const election = ha.leaderElection();
    let granted = false;
    election.campaign({ grantLeadership: () => (granted = true), revokeLeadership: () => (granted = false) }, 'tls-contender');
    await waitFor('leadership over TLS', () => granted, { timeoutMs: 15_000 });
    await ha.jobGraphStore(election.guard()).put('job', { code: 'x' });
    assert.deepEqual(await ha.jobGraphStore(null).get('job'), { code: 'x' });
  });
});
