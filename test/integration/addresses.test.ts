import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import path from 'node:path';
import { ActorSystem } from '../../lib/index.js';
import type { ApiOverview, ApiTaskExecutor } from '../../lib/rest/shapes.js';
import { parseHostPort } from '../../lib/util/host-address.js';
import { distRoot, killAll } from '../support/launcher.js';
import { CLI, expectedWordCounts, jobPath, startCluster, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

/** Whether something accepts TCP connections at `host:port`. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function portOf(address: unknown): number {
  const parsed = parseHostPort(String(address));
  assert.ok(parsed, `not host:port: ${String(address)}`);
  return parsed.port;
}

/**
 * Every process binds its own loopback address (127.0.0.0/8 is all loopback on Linux), as
 * processes on separate machines would: the Master binds 127.0.0.1 and advertises the name
 * `localhost`, the TaskExecutors bind 127.0.0.2 and 127.0.0.3. Peers know each other only by
 * what was advertised.
 */
describe('addresses - a cluster whose processes bind and advertise their own addresses', function () {
  this.timeout(90_000);
  let cluster: TestCluster;

  const rest = () => String(cluster.master.ready['rest']);
  async function get<T>(route: string): Promise<T> {
    const res = await fetch(`http://${rest()}${route}`);
    assert.equal(res.status, 200, route);
    return (await res.json()) as T;
  }

  before(async () => {
    cluster = await startCluster({
      taskExecutors: 2,
      slots: 1,
      env: { FLINKISH_REST_PORT: '0', FLINKISH_METRICS_PORT: '0' },
      masterArgs: ['--host', '127.0.0.1', '--advertised-host', 'localhost'],
      taskExecutorArgs: (i) => ['--host', `127.0.0.${i + 2}`],
    });
    await waitFor('2 registered TaskExecutors', async () => (await get<ApiOverview>('/api/overview')).taskExecutors === 2, { timeoutMs: 15_000 });
  });
  after(async () => {
    await cluster?.stop();
    await killAll();
  });

  it('ready lines name every server by its advertised host', () => {
    const m = cluster.master.ready;
    for (const key of ['node', 'rest', 'metrics']) assert.match(String(m[key]), /^localhost:\d+$/, `master ${key}`);
    cluster.taskExecutors.forEach((te, i) => {
      for (const key of ['node', 'dataAddress', 'metrics']) assert.match(String(te.ready[key]), new RegExp(`^127\\.0\\.0\\.${i + 2}:\\d+$`), `te-${i + 1} ${key}`);
    });
  });

  it('each server listens on its bind address only', async () => {
    const [te1, te2] = cluster.taskExecutors.map((te) => te.ready);
    for (const key of ['node', 'dataAddress', 'metrics']) {
      assert.equal(await accepts('127.0.0.2', portOf(te1![key])), true, `te-1 ${key} on 127.0.0.2`);
      assert.equal(await accepts('127.0.0.1', portOf(te1![key])), false, `te-1 ${key} is not on 127.0.0.1`);
      assert.equal(await accepts('127.0.0.3', portOf(te2![key])), true, `te-2 ${key} on 127.0.0.3`);
    }
    for (const key of ['node', 'rest', 'metrics']) {
      assert.equal(await accepts('127.0.0.1', portOf(cluster.master.ready[key])), true, `master ${key} on 127.0.0.1`);
      assert.equal(await accepts('127.0.0.2', portOf(cluster.master.ready[key])), false, `master ${key} is not on 127.0.0.2`);
    }
  });

  it('the registered node ids and data addresses, and the leader record, carry the advertised hosts', async () => {
    const tes = await get<ApiTaskExecutor[]>('/api/taskexecutors');
    assert.deepEqual(
      tes.map((t) => [t.id, t.node, t.dataAddress]),
      cluster.taskExecutors.map((te, i) => [`te-${i + 1}`, te.ready['node'], te.ready['dataAddress']]),
    );
    const overview = await get<ApiOverview>('/api/overview');
    assert.equal(overview.leader?.node, cluster.masterAddress);
    assert.equal(overview.leader?.rest, rest());
  });

  it('runs a job whose records cross between the TaskExecutors, exactly', async () => {
    // One slot on each TaskExecutor and parallelism 2: each runs one pipeline, and the keyBy
    // sends about half of each source's words to the other TaskExecutor's counter.
    const client = await cluster.client();
    const lines = 2000;
    const jobId = await client.submitFile(jobPath('wordcount'), { parallelism: 2, args: { lines } });
    const result = await client.waitForResult(jobId);
    assert.equal(result.state, 'finished', JSON.stringify(result.failure));
    const last = new Map<string, number>();
    let updates = 0;
    for (const record of result.collected) {
      const [word, count] = record as [string, number];
      last.set(word, Math.max(last.get(word) ?? 0, count));
      updates++;
    }
    const expected = expectedWordCounts(lines);
    assert.deepEqual(new Map([...last].sort()), new Map([...expected].sort()));
    assert.equal(updates, [...expected.values()].reduce((a, b) => a + b, 0), 'one update per word: nothing lost, nothing twice');
  });

  it('the ResourceManager refuses a registration whose data address peers cannot dial, and keeps nothing of it', async () => {
    const intruder = await ActorSystem.start({ clusterId: cluster.env['FLINKISH_CLUSTER_ID']!, secret: cluster.env['FLINKISH_SECRET']!, host: '127.0.0.4', name: 'registrar' });
    try {
      const rm = intruder.ref<any>(cluster.masterAddress, 'resourcemanager');
      for (const dataAddress of ['0.0.0.0:7000', '127.0.0.1', 'not an address:1']) {
        await assert.rejects(
          rm.ask({ type: 'rm.te.register', taskExecutorId: 'te-bad', taskExecutor: intruder.ref(intruder.node, 'taskexecutor'), dataAddress, slots: [{ index: 0, managedMemoryBytes: 1 << 20 }] }),
          { code: 'RM_INVALID_DATA_ADDRESS' },
          dataAddress,
        );
      }
    } finally {
      await intruder.terminate();
    }
    const tes = await get<ApiTaskExecutor[]>('/api/taskexecutors');
    assert.deepEqual(tes.map((t) => t.id), ['te-1', 'te-2']);
  });
});

describe('addresses - start-up refuses addresses peers could not use', function () {
  this.timeout(60_000);
  const env = { ...process.env, FLINKISH_SECRET: 'addresses-test-secret-0123', FLINKISH_METRICS_PORT: '-1', FLINKISH_REST_PORT: '-1' };
  const run = (args: string[]) => spawnSync(process.execPath, [path.join(distRoot, CLI), ...args], { encoding: 'utf8', env, timeout: 20_000 });

  it('a wildcard bind without an advertised host, naming the key, its variable and its flag', () => {
    for (const command of [['master', '--port', '0'], ['--master', '127.0.0.1:1', 'taskexecutor']]) {
      for (const wildcard of ['0.0.0.0', '::']) {
        const r = run([...command, '--host', wildcard]);
        assert.equal(r.status, 2, `${command.join(' ')} --host ${wildcard}: ${r.stderr}`);
        assert.match(r.stderr, /invalid configuration 'advertisedHost': host is .* every interface.*set advertisedHost \(FLINKISH_ADVERTISED_HOST or --advertised-host\)/);
        assert.doesNotMatch(r.stdout, /"ready"/);
      }
    }
  });

  it('a port where a host belongs, a wildcard advertised host, and a malformed host', () => {
    const cases: Array<[string[], RegExp]> = [
      [['master', '--host', '127.0.0.1:6123'], /'host': must be a host without a port/],
      [['master', '--host', '127.0.0.1', '--advertised-host', '0.0.0.0'], /'advertisedHost': must be an address peers can dial, not the wildcard/],
      [['--master', '127.0.0.1:1', 'taskexecutor', '--advertised-host', 'te_1.example'], /'advertisedHost': must be an IP address or a host name/],
      [['--master', '127.0.0.1', 'taskexecutor'], /'masterAddress': must be host:port/],
    ];
    for (const [args, pattern] of cases) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
  });
});
