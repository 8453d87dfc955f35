/**
 * The file that `flinkish drill --cluster FILE` reads: the hosts of a running cluster, the agent
 * of each (`flinkish agent`), the processes each runs, and how to reach the cluster. Secrets are
 * not in it: the node secret (which the agents require) comes from FLINKISH_SECRET / --secret /
 * --config as for any node, the client secret from the same places or from `cluster.clusterJson`.
 *
 * ```json
 * {
 *   "cluster": { "clusterId": "prod", "etcdEndpoints": ["http://10.0.0.1:2379"], "leaseTtlSeconds": 3 },
 *   "outputDir": "/shared/drill",
 *   "hosts": [
 *     { "name": "m1", "agent": "10.0.0.1:6124",
 *       "processes": [
 *         { "role": "master", "address": "10.0.0.1:6123", "logFile": "/shared/logs/master-1.log" },
 *         { "role": "etcd", "address": "10.0.0.1:2379" } ] },
 *     { "name": "w1", "agent": "10.0.0.5:6124",
 *       "processes": [ { "role": "taskexecutor", "id": "te-1", "address": "10.0.0.5:6200" } ] }
 *   ]
 * }
 * ```
 * - `cluster`: `clusterId`, and `etcdEndpoints` (HA) or `masterAddress`; or `clusterJson`, the
 *   path of a `cluster.json` as `cluster start` writes it (clientSecret, clusterId, endpoints,
 *   etcd credentials). `leaseTtlSeconds`: the cluster's lease TTL (how long a paused or cut
 *   leader is held), default the `--lease-ttl` option.
 * - `outputDir`: a directory every TaskExecutor writes to and the drill reads (a shared
 *   filesystem): the drill's job writes its exactly-once output there, in a fresh subdirectory.
 * - `hosts[].address`: the host's address on the cluster's network (what partitions cut), by
 *   default the agent's host.
 * - `processes[].address`: the `host:port` the process listens on (a Master's or TaskExecutor's
 *   RPC address, i.e. its node id; an etcd member's client port): how its agent finds it.
 *   A TaskExecutor also gives its `id`; a Master its `logFile`, if the drill can read it, for the
 *   audit of fenced leader actions and the report's time without a leader (a Master without one
 *   fails the audit: it is not audited). A TaskExecutor may give its `logFile` too: then the drill
 *   sees it register again after a partition-te is healed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isIP } from 'node:net';
import type { ClusterConfig } from '../../lib/config.js';
import { parseHostPort } from '../../lib/util/host-address.js';
import { ClusterFileError } from './errors.js';

export type ClusterFileProcess =
  | { role: 'master'; address: string; logFile?: string }
  | { role: 'taskexecutor'; id: string; address: string; logFile?: string }
  | { role: 'etcd'; address: string };

export interface ClusterFileHost {
  name: string;
  agent: string;
  address: string;
  processes: ClusterFileProcess[];
}

export interface ClusterFile {
  /** The file's own path (for messages). */
  file: string;
  cluster: { clusterId?: string; etcdEndpoints?: string[]; masterAddress?: string; clusterJson?: string; leaseTtlSeconds?: number };
  outputDir: string;
  hosts: ClusterFileHost[];
}

type Json = Record<string, unknown>;

/** Read and validate FILE; throws {@link ClusterFileError} naming the field and what to write instead. */
export function readClusterFile(file: string): ClusterFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ClusterFileError(file, '', `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give the path of a JSON file listing the cluster's hosts`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ClusterFileError(file, '', `is not JSON: ${(err as Error).message}`);
  }
  return parseClusterFile(value, file);
}

export function parseClusterFile(value: unknown, file: string): ClusterFile {
  const fail = (where: string, problem: string): never => {
    throw new ClusterFileError(file, where, problem);
  };
  const object = (v: unknown, where: string, keys: readonly string[]): Json => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'must be an object');
    const unknown = Object.keys(v as Json).find((k) => !keys.includes(k));
    if (unknown !== undefined) fail(where, `unknown field '${unknown}' (known: ${keys.join(', ')})`);
    return v as Json;
  };
  const string = (v: unknown, where: string): string => (typeof v === 'string' && v.length > 0 ? v : fail(where, 'must be a non-empty string'));
  const hostPort = (v: unknown, where: string): string => {
    const s = string(v, where);
    return parseHostPort(s) ? s : fail(where, `must be host:port (an IPv6 address in brackets: [::1]:6124), got '${s}'`);
  };
  const absolute = (v: unknown, where: string): string => {
    const s = string(v, where);
    return path.isAbsolute(s) ? s : fail(where, `must be an absolute path, got '${s}'`);
  };

  const root = object(value, '', ['cluster', 'outputDir', 'hosts']);
  const c = object(root['cluster'] ?? fail('cluster', 'missing: say how to reach the cluster (clusterId with etcdEndpoints or masterAddress, or clusterJson)'), 'cluster', [
    'clusterId',
    'etcdEndpoints',
    'masterAddress',
    'clusterJson',
    'leaseTtlSeconds',
  ]);
  const cluster: ClusterFile['cluster'] = {};
  if (c['clusterId'] !== undefined) cluster.clusterId = string(c['clusterId'], 'cluster.clusterId');
  if (c['masterAddress'] !== undefined) cluster.masterAddress = hostPort(c['masterAddress'], 'cluster.masterAddress');
  if (c['clusterJson'] !== undefined) cluster.clusterJson = absolute(c['clusterJson'], 'cluster.clusterJson');
  if (c['etcdEndpoints'] !== undefined) {
    const endpoints = c['etcdEndpoints'];
    if (!Array.isArray(endpoints) || endpoints.length === 0) fail('cluster.etcdEndpoints', 'must be a non-empty list of http(s)://host:port');
    cluster.etcdEndpoints = (endpoints as unknown[]).map((e, i) => {
      const s = string(e, `cluster.etcdEndpoints[${i}]`);
      return /^https?:\/\/[^/\s]+$/.test(s) ? s : fail(`cluster.etcdEndpoints[${i}]`, `must be http(s)://host:port, got '${s}'`);
    });
  }
  if (c['leaseTtlSeconds'] !== undefined) {
    const ttl = c['leaseTtlSeconds'];
    cluster.leaseTtlSeconds = Number.isInteger(ttl) && (ttl as number) > 0 ? (ttl as number) : fail('cluster.leaseTtlSeconds', `must be a positive integer, got ${JSON.stringify(ttl)}`);
  }
  if (!cluster.clusterJson && !cluster.etcdEndpoints && !cluster.masterAddress) {
    fail('cluster', 'names no cluster: give etcdEndpoints (HA) or masterAddress, or clusterJson');
  }

  const outputDir = absolute(root['outputDir'] ?? fail('outputDir', 'missing: a directory every TaskExecutor writes to and the drill reads'), 'outputDir');

  const hostsValue = root['hosts'];
  if (!Array.isArray(hostsValue) || hostsValue.length === 0) fail('hosts', 'must be a non-empty list of hosts, each with its agent and processes');
  const names = new Set<string>();
  const addresses = new Map<string, string>();
  const hosts = (hostsValue as unknown[]).map((h, i): ClusterFileHost => {
    const where = `hosts[${i}]`;
    const o = object(h, where, ['name', 'agent', 'address', 'processes']);
    const name = string(o['name'], `${where}.name`);
    if (names.has(name)) fail(`${where}.name`, `'${name}' names two hosts`);
    names.add(name);
    const agent = hostPort(o['agent'] ?? fail(`${where}.agent`, "missing: the host:port of the host's `flinkish agent`"), `${where}.agent`);
    const address = o['address'] === undefined ? parseHostPort(agent)!.host : string(o['address'], `${where}.address`);
    if (isIP(address) === 0) fail(`${where}.address`, `must be the host's IP address (what a partition cuts), got '${address}'`);
    if (addresses.has(address)) fail(`${where}.address`, `${address} is also host '${addresses.get(address)}': each host has its own address`);
    addresses.set(address, name);
    const list = o['processes'];
    if (!Array.isArray(list)) fail(`${where}.processes`, 'must be a list (empty for a host that runs none)');
    const processes = (list as unknown[]).map((p, j): ClusterFileProcess => {
      const at = `${where}.processes[${j}]`;
      const role = (p as Json | null)?.['role'];
      switch (role) {
        case 'master': {
          const q = object(p, at, ['role', 'address', 'logFile']);
          return { role, address: hostPort(q['address'], `${at}.address`), ...(q['logFile'] === undefined ? {} : { logFile: absolute(q['logFile'], `${at}.logFile`) }) };
        }
        case 'taskexecutor': {
          const q = object(p, at, ['role', 'id', 'address', 'logFile']);
          return { role, id: string(q['id'], `${at}.id`), address: hostPort(q['address'], `${at}.address`), ...(q['logFile'] === undefined ? {} : { logFile: absolute(q['logFile'], `${at}.logFile`) }) };
        }
        case 'etcd': {
          const q = object(p, at, ['role', 'address']);
          return { role, address: hostPort(q['address'], `${at}.address`) };
        }
        default:
          return fail(`${at}.role`, `must be master, taskexecutor or etcd, got ${JSON.stringify(role)}`);
      }
    });
    return { name, agent, address, processes };
  });
  const all = hosts.flatMap((h) => h.processes);
  if (!all.some((p) => p.role === 'master')) fail('hosts', 'list no Master: the drill finds the leader among the Masters listed');
  if (!all.some((p) => p.role === 'taskexecutor')) fail('hosts', 'list no TaskExecutor');
  const seen = new Set<string>();
  for (const p of all) {
    const key = p.role === 'taskexecutor' ? `te:${p.id}` : `${p.role}:${p.address}`;
    if (seen.has(key)) fail('hosts', `${p.role} ${p.role === 'taskexecutor' ? p.id : p.address} is listed twice`);
    seen.add(key);
  }
  return { file, cluster, outputDir, hosts };
}

/** The file's cluster section as configuration values (`clusterJson` first, the explicit fields over it). */
export function clusterConfigValues(file: ClusterFile): Partial<Record<keyof ClusterConfig, unknown>> {
  const values: Partial<Record<keyof ClusterConfig, unknown>> = {};
  const json = file.cluster.clusterJson;
  if (json) {
    let state: Json;
    try {
      state = JSON.parse(readFileSync(json, 'utf8')) as Json;
    } catch (err) {
      throw new ClusterFileError(file.file, 'cluster.clusterJson', `${json} cannot be read as JSON (${(err as Error).message})`);
    }
    for (const key of ['clusterId', 'clientSecret', 'masterAddress', 'etcdEndpoints', 'etcdUsername', 'etcdPassword'] as const) {
      if (state[key] !== undefined && !(key === 'etcdEndpoints' && (state[key] as unknown[]).length === 0)) values[key] = state[key];
    }
    // A cluster.json of an HA cluster names its first Master too: etcd finds the leader.
    if (values.etcdEndpoints) delete values.masterAddress;
  }
  if (file.cluster.clusterId) values.clusterId = file.cluster.clusterId;
  if (file.cluster.etcdEndpoints) values.etcdEndpoints = file.cluster.etcdEndpoints.join(',');
  if (file.cluster.masterAddress) values.masterAddress = file.cluster.masterAddress;
  return values;
}
