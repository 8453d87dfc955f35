import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { clusterConfigValues, parseClusterFile, readClusterFile } from '../../../scripts/drill/cluster-file.js';
import { ClusterFileError, DrillErrorCode } from '../../../scripts/drill/errors.js';

const valid = () => ({
  cluster: { clusterId: 'prod', etcdEndpoints: ['http://10.0.0.1:2379'], leaseTtlSeconds: 3 },
  outputDir: '/shared/drill',
  hosts: [
    { name: 'm1', agent: '10.0.0.1:6124', processes: [{ role: 'master', address: '10.0.0.1:6123', logFile: '/shared/logs/m1.log' }, { role: 'etcd', address: '10.0.0.1:2379' }] },
    { name: 'w1', agent: '10.0.0.5:6124', address: '10.0.1.5', processes: [{ role: 'taskexecutor', id: 'te-1', address: '10.0.0.5:6200' }] },
  ],
});

/** The message of the ClusterFileError that parsing `value` throws. */
function problem(value: unknown): string {
  try {
    parseClusterFile(value, 'c.json');
  } catch (err) {
    assert.ok(err instanceof ClusterFileError);
    assert.equal(err.code, DrillErrorCode.ClusterFileInvalid);
    return err.message;
  }
  assert.fail('parsed');
}

describe('drill cluster file', () => {
  it('reads a valid file, with each host address defaulting to its agent host', () => {
    const file = parseClusterFile(valid(), 'c.json');
    assert.deepEqual(file.hosts.map((h) => h.address), ['10.0.0.1', '10.0.1.5']);
    assert.deepEqual(file.hosts[1]!.processes, [{ role: 'taskexecutor', id: 'te-1', address: '10.0.0.5:6200' }]);
    assert.deepEqual(clusterConfigValues(file), { clusterId: 'prod', etcdEndpoints: 'http://10.0.0.1:2379' });
  });

  it('names the field and what to write for each mistake', () => {
    const cases: Array<[(v: ReturnType<typeof valid>) => unknown, RegExp]> = [
      [() => [], /c\.json: must be an object/],
      [(v) => ({ ...v, cluster: undefined }), /cluster: missing: say how to reach the cluster/],
      [(v) => ({ ...v, cluster: { clusterId: 'x' } }), /cluster: names no cluster/],
      [(v) => ({ ...v, cluster: { ...v.cluster, etcdEndpoints: ['10.0.0.1:2379'] } }), /cluster\.etcdEndpoints\[0\]: must be http\(s\):\/\/host:port/],
      [(v) => ({ ...v, cluster: { ...v.cluster, leaseTtl: 3 } }), /cluster: unknown field 'leaseTtl'/],
      [(v) => ({ ...v, outputDir: 'rel/dir' }), /outputDir: must be an absolute path/],
      [(v) => ({ ...v, hosts: [] }), /hosts: must be a non-empty list/],
      [(v) => ({ ...v, hosts: [{ ...v.hosts[0], agent: '10.0.0.1' }, v.hosts[1]] }), /hosts\[0\]\.agent: must be host:port/],
      [(v) => ({ ...v, hosts: [v.hosts[0], { ...v.hosts[1], name: 'm1' }] }), /hosts\[1\]\.name: 'm1' names two hosts/],
      [(v) => ({ ...v, hosts: [v.hosts[0], { ...v.hosts[1], address: '10.0.0.1' }] }), /hosts\[1\]\.address: 10\.0\.0\.1 is also host 'm1'/],
      [(v) => ({ ...v, hosts: [v.hosts[0], { ...v.hosts[1], address: 'w1.example' }] }), /hosts\[1\]\.address: must be the host's IP address/],
      [(v) => ({ ...v, hosts: [v.hosts[0], { ...v.hosts[1], processes: [{ role: 'jobmanager', address: '10.0.0.5:1' }] }] }), /hosts\[1\]\.processes\[0\]\.role: must be master, taskexecutor or etcd, got "jobmanager"/],
      [(v) => ({ ...v, hosts: [v.hosts[0], { ...v.hosts[1], processes: [{ role: 'taskexecutor', address: '10.0.0.5:6200' }] }] }), /hosts\[1\]\.processes\[0\]\.id: must be a non-empty string/],
      [(v) => ({ ...v, hosts: [v.hosts[0], { ...v.hosts[1], processes: [{ role: 'taskexecutor', id: 'te-1', address: '10.0.0.5:6200', pid: 3 }] }] }), /processes\[0\]: unknown field 'pid'/],
      [(v) => ({ ...v, hosts: [v.hosts[1]] }), /hosts: list no Master/],
      [(v) => ({ ...v, hosts: [v.hosts[0]] }), /hosts: list no TaskExecutor/],
      [(v) => ({ ...v, hosts: [v.hosts[0], { ...v.hosts[1], processes: [...v.hosts[1]!.processes, ...v.hosts[1]!.processes] }] }), /taskexecutor te-1 is listed twice/],
    ];
    for (const [change, expected] of cases) assert.match(problem(change(valid())), expected);
  });

  it('says when the file is missing or not JSON, and takes a cluster.json for the client secret', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cluster-file-'));
    try {
      assert.throws(() => readClusterFile(path.join(dir, 'none.json')), /cannot be read \(ENOENT\)/);
      writeFileSync(path.join(dir, 'bad.json'), '{ hosts: ');
      assert.throws(() => readClusterFile(path.join(dir, 'bad.json')), /is not JSON/);
      const clusterJson = path.join(dir, 'cluster.json');
      writeFileSync(clusterJson, JSON.stringify({ clusterId: 'local', clientSecret: 'c'.repeat(24), masterAddress: '127.0.0.1:6123', etcdEndpoints: ['http://127.0.0.1:2379'], etcdUsername: 'root', etcdPassword: 'p' }));
      const file = parseClusterFile({ ...valid(), cluster: { clusterJson } }, 'c.json');
      // An HA cluster's leader is found through etcd, not at its first Master.
      assert.deepEqual(clusterConfigValues(file), { clusterId: 'local', clientSecret: 'c'.repeat(24), etcdEndpoints: ['http://127.0.0.1:2379'], etcdUsername: 'root', etcdPassword: 'p' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
