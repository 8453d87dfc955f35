/**
 * The cluster's configuration: one typed object with documented defaults. Values come from
 * (lowest to highest precedence) the defaults, the local cluster's state (`cluster.json`, for
 * client commands), a JSON config file, `FLINKISH_*` environment variables, and command-line
 * flags. Every problem names the key and what is allowed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './errors.js';
import { checkEtcdCredentials, etcdCredentialsOf } from './ha/etcd-auth.js';
import { normalizeLocation } from './storage/location.js';
import type { S3Settings } from './storage/types.js';
import { isWildcardHost, parseHostPort, resolveHosts } from './util/host-address.js';

export interface ClusterConfig {
  /** Peers with another cluster id are refused. */
  clusterId: string;
  /** Node secret for the handshake of Masters and TaskExecutors (>= 16 characters). */
  secret: string;
  /** Client secret: what the CLI and ClusterClient authenticate with (>= 16 characters, not `secret`). */
  clientSecret: string;
  /** Address this process's servers bind to (RPC, data plane, REST, metrics); loopback by default. A wildcard (`0.0.0.0`, `::`) needs `advertisedHost`. */
  host: string;
  /** Address peers reach this process at: its node id, data address and REST address carry it (default: `host`). */
  advertisedHost: string;
  /** Master RPC port; 0 picks a free one. */
  masterPort: number;
  /** `host:port` of the Master, for TaskExecutors and clients (standalone mode). */
  masterAddress: string;
  /** etcd client URLs (comma separated); empty means standalone mode (no HA). */
  etcdEndpoints: string[];
  /** etcd user and password (password authentication); both or neither. Never logged. */
  etcdUsername: string;
  etcdPassword: string;
  /** etcd TLS: CA of etcd's server certificate, and a client certificate and key (PEM files). */
  etcdCaFile: string;
  etcdCertFile: string;
  etcdKeyFile: string;
  /** Working directory for job code, caches and checkpoints. */
  workDir: string;
  /** Checkpoint storage every TaskExecutor reaches: a path, file:///dir or s3://bucket/prefix (default: `<workDir>/checkpoints`). */
  checkpointDir: string;
  /** Default savepoint target, a path or URL as checkpointDir (default: `<workDir>/savepoints`). */
  savepointDir: string;
  /** S3-compatible endpoint for s3:// storage (e.g. http://minio:9000); empty: AWS, or AWS_ENDPOINT_URL_S3. */
  s3Endpoint: string;
  /** S3 region; empty: AWS_REGION, else us-east-1. Credentials come from the AWS SDK's chain (AWS_ACCESS_KEY_ID ...). */
  s3Region: string;
  /** Path-style S3 addressing (`endpoint/bucket/key`), as MinIO and Ceph RGW need: true or false. */
  s3PathStyle: boolean;
  /** Further directories a client may name as a savepoint target (savepointDir always may be). */
  savepointRoots: string[];
  /** Leader election lease TTL in seconds (HA mode). */
  leaseTtlSeconds: number;
  /** Slots per TaskExecutor. */
  slots: number;
  /** Managed memory per slot, in MiB: the heap limit of each task's worker thread. */
  slotMemoryMb: number;
  /** Default parallelism of jobs that set none. */
  defaultParallelism: number;
  /** How long a job waits for its slots before it fails. */
  slotRequestTimeoutMs: number;
  /** How long cancelled subtasks have to confirm before they are declared failed. */
  cancelTimeoutMs: number;
  /** ResourceManager → TaskExecutor heartbeats. */
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** How long a TaskExecutor keeps its tasks running without a leader that adopts them (then it cancels them). */
  adoptionTimeoutMs: number;
  /** How long a new leader's JobMaster waits for the reports of a recovered job's running tasks before it restarts the job instead of adopting them. */
  reconcileTimeoutMs: number;
  /** Records kept per job from collect() sinks. */
  maxCollectedRecords: number;
  logLevel: string;
  /** REST API and dashboard of a Master, bound to `host`; 0 picks a free port, -1 turns it off. */
  restPort: number;
  /** Prometheus `/metrics` of every process, bound to `host`; 0 picks a free port, -1 turns it off. */
  metricsPort: number;
  /** Bearer token for the REST API's mutating endpoints (>= 16 characters); empty turns them off. */
  restToken: string;
  /** Wall-clock limit of a submitted module's evaluation on the Master (import and dataflow build). */
  jobBuildTimeoutMs: number;
  /** Heap limit of the worker thread in which the Master evaluates a submitted module. */
  jobBuildMemoryMb: number;
  /** Largest job module a Master accepts (with HA, never above what the HA store holds per job). */
  jobModuleMaxBytes: number;
  /** Host names the REST API answers besides loopback names, `host` and `advertisedHost` (DNS-rebinding guard). */
  restAllowedHosts: string[];
}

export const configDefaults: ClusterConfig = {
  clusterId: 'flinkish',
  secret: '',
  clientSecret: '',
  host: '127.0.0.1',
  advertisedHost: '',
  masterPort: 6123,
  masterAddress: '127.0.0.1:6123',
  etcdEndpoints: [],
  etcdUsername: '',
  etcdPassword: '',
  etcdCaFile: '',
  etcdCertFile: '',
  etcdKeyFile: '',
  workDir: '.flinkish',
  checkpointDir: '',
  savepointDir: '',
  s3Endpoint: '',
  s3Region: '',
  s3PathStyle: false,
  savepointRoots: [],
  leaseTtlSeconds: 3,
  slots: 2,
  slotMemoryMb: 256,
  defaultParallelism: 1,
  slotRequestTimeoutMs: 60_000,
  cancelTimeoutMs: 10_000,
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 5000,
  adoptionTimeoutMs: 15_000,
  reconcileTimeoutMs: 5000,
  maxCollectedRecords: 1_000_000,
  logLevel: 'info',
  // Ephemeral by default: a host runs several Masters and TaskExecutors (and test clusters),
  // so a fixed default port would clash; the ready line prints the address.
  restPort: 0,
  metricsPort: 0,
  restToken: '',
  jobBuildTimeoutMs: 10_000,
  jobBuildMemoryMb: 128,
  jobModuleMaxBytes: 512 * 1024,
  restAllowedHosts: [],
};

type Kind = 'string' | 'int' | 'list' | 'bool';

const KINDS: Record<keyof ClusterConfig, Kind> = {
  clusterId: 'string',
  secret: 'string',
  clientSecret: 'string',
  host: 'string',
  advertisedHost: 'string',
  masterPort: 'int',
  masterAddress: 'string',
  etcdEndpoints: 'list',
  etcdUsername: 'string',
  etcdPassword: 'string',
  etcdCaFile: 'string',
  etcdCertFile: 'string',
  etcdKeyFile: 'string',
  workDir: 'string',
  checkpointDir: 'string',
  savepointDir: 'string',
  s3Endpoint: 'string',
  s3Region: 'string',
  s3PathStyle: 'bool',
  savepointRoots: 'list',
  leaseTtlSeconds: 'int',
  slots: 'int',
  slotMemoryMb: 'int',
  defaultParallelism: 'int',
  slotRequestTimeoutMs: 'int',
  cancelTimeoutMs: 'int',
  heartbeatIntervalMs: 'int',
  heartbeatTimeoutMs: 'int',
  adoptionTimeoutMs: 'int',
  reconcileTimeoutMs: 'int',
  maxCollectedRecords: 'int',
  logLevel: 'string',
  restPort: 'int',
  metricsPort: 'int',
  restToken: 'string',
  jobBuildTimeoutMs: 'int',
  jobBuildMemoryMb: 'int',
  jobModuleMaxBytes: 'int',
  restAllowedHosts: 'list',
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** `FLINKISH_SLOT_MEMORY_MB` for `slotMemoryMb`. */
export function envName(key: string): string {
  return `FLINKISH_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export function configKeys(): Array<keyof ClusterConfig> {
  return Object.keys(KINDS) as Array<keyof ClusterConfig>;
}

type ConfigValues = Partial<Record<keyof ClusterConfig, unknown>>;

export interface ConfigSources {
  /**
   * The local cluster's values (from `cluster.json`), below every other source. They describe
   * one whole cluster, so they apply only when no other source names a cluster
   * (`masterAddress` or `etcdEndpoints`): another cluster never gets the local one's secret.
   */
  local?: ConfigValues | null;
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Already-parsed command-line values; undefined means not given. */
  flags?: ConfigValues;
}

/** The keys that say which cluster to talk to. */
const CLUSTER_ADDRESS_KEYS: ReadonlyArray<keyof ClusterConfig> = ['masterAddress', 'etcdEndpoints'];

/**
 * Resolve the configuration: defaults < local cluster < file < env < flags. Strings from
 * files, env and flags are converted and validated alike.
 */
export function loadConfig(options: ConfigSources = {}): ClusterConfig {
  const env = options.env ?? process.env;
  const layers: Array<[ConfigValues, (key: string) => string]> = [];
  if (options.file) {
    const file = options.file;
    layers.push([readConfigFile(file), () => file]);
  }
  const fromEnv: ConfigValues = {};
  for (const key of configKeys()) {
    const value = env[envName(key)];
    if (value !== undefined && value !== '') fromEnv[key] = value;
  }
  layers.push([fromEnv, envName]);
  layers.push([options.flags ?? {}, (key) => `--${key}`]);
  const named = layers.some(([values]) => CLUSTER_ADDRESS_KEYS.some((key) => values[key] !== undefined));
  if (options.local && !named) layers.unshift([options.local, () => 'the local cluster (cluster.json)']);
  const merged: Record<string, unknown> = { ...configDefaults };
  for (const [values, source] of layers) {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) continue;
      if (!(key in KINDS)) throw new ConfigError(key, 'unknown key');
      merged[key] = convert(key as keyof ClusterConfig, value, source(key));
    }
  }
  return validate(merged as unknown as ClusterConfig);
}

function readConfigFile(file: string): ConfigValues {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError('config file', `cannot read ${file} as JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError('config file', 'must hold a JSON object');
  for (const key of Object.keys(parsed)) {
    if (!(key in KINDS)) throw new ConfigError(key, `unknown key in ${file}; known keys: ${configKeys().join(', ')}`);
  }
  return parsed as ConfigValues;
}

function convert(key: keyof ClusterConfig, value: unknown, source: string): unknown {
  switch (KINDS[key]) {
    case 'int': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) throw new ConfigError(key, `must be an integer, got ${JSON.stringify(value)} (from ${source})`);
      return n;
    }
    case 'bool':
      if (value === true || value === 'true') return true;
      if (value === false || value === 'false') return false;
      throw new ConfigError(key, `must be true or false, got ${JSON.stringify(value)} (from ${source})`);
    case 'list':
      if (Array.isArray(value)) return value.map(String);
      if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter(Boolean);
      throw new ConfigError(key, `must be a list or a comma-separated string (from ${source})`);
    case 'string':
      if (typeof value !== 'string') throw new ConfigError(key, `must be a string, got ${JSON.stringify(value)} (from ${source})`);
      return value;
  }
}

function validate(c: ClusterConfig): ClusterConfig {
  range(c, 'masterPort', 0, 65535);
  range(c, 'leaseTtlSeconds', 2, 600);
  range(c, 'slots', 1, 1024);
  range(c, 'slotMemoryMb', 16, 1 << 20);
  range(c, 'defaultParallelism', 1, 32768);
  range(c, 'slotRequestTimeoutMs', 1, 24 * 3600_000);
  range(c, 'cancelTimeoutMs', 1, 3600_000);
  range(c, 'heartbeatIntervalMs', 10, 3600_000);
  range(c, 'heartbeatTimeoutMs', c.heartbeatIntervalMs + 1, 3600_000);
  range(c, 'reconcileTimeoutMs', 1, 3600_000);
  // Tasks must outlive the new leader's reconciliation, or it never finds them to adopt.
  range(c, 'adoptionTimeoutMs', c.reconcileTimeoutMs + 1, 3600_000);
  range(c, 'maxCollectedRecords', 0, 100_000_000);
  range(c, 'restPort', -1, 65535);
  range(c, 'metricsPort', -1, 65535);
  range(c, 'jobBuildTimeoutMs', 100, 600_000);
  range(c, 'jobBuildMemoryMb', 16, 1 << 16);
  range(c, 'jobModuleMaxBytes', 1, 256 << 20);
  if (c.restToken !== '' && c.restToken.length < 16) throw new ConfigError('restToken', 'must be at least 16 characters (or empty to turn mutating REST endpoints off)');
  if (c.clientSecret !== '' && c.clientSecret.length < 16) throw new ConfigError('clientSecret', 'must be at least 16 characters');
  if (c.clientSecret !== '' && c.clientSecret === c.secret) throw new ConfigError('clientSecret', 'must differ from secret, or every client could pose as a node');
  if (!c.clusterId) throw new ConfigError('clusterId', 'must not be empty');
  const hosts = resolveHosts(c.host, c.advertisedHost, {
    host: 'host',
    advertisedHost: 'advertisedHost',
    hint: `advertisedHost (${envName('advertisedHost')} or --advertised-host)`,
  });
  c.host = hosts.host;
  c.advertisedHost = hosts.advertisedHost;
  const master = parseHostPort(c.masterAddress);
  if (!master) throw new ConfigError('masterAddress', `must be host:port (an IPv6 address in brackets: [::1]:6123), got '${c.masterAddress}'`);
  if (isWildcardHost(master.host)) throw new ConfigError('masterAddress', `names the wildcard ${master.host}: give the Master's advertised address`);
  if (!LOG_LEVELS.includes(c.logLevel)) throw new ConfigError('logLevel', `must be one of ${LOG_LEVELS.join(', ')}, got '${c.logLevel}'`);
  for (const endpoint of c.etcdEndpoints) {
    if (!/^https?:\/\/[^/\s]+$/.test(endpoint)) throw new ConfigError('etcdEndpoints', `each must be http(s)://host:port, got '${endpoint}'`);
  }
  checkEtcdCredentials(etcdCredentialsOf(c));
  // Directories default to places inside the work dir; URLs are kept (file:// becomes a path).
  c.checkpointDir = storageLocation('checkpointDir', c.checkpointDir || path.resolve(c.workDir, 'checkpoints'));
  c.savepointDir = storageLocation('savepointDir', c.savepointDir || path.resolve(c.workDir, 'savepoints'));
  if (c.s3Endpoint !== '' && !/^https?:\/\/[^/\s]+\/?$/.test(c.s3Endpoint)) throw new ConfigError('s3Endpoint', `must be http(s)://host[:port], got '${c.s3Endpoint}'`);
  return c;
}

function storageLocation(key: 'checkpointDir' | 'savepointDir', value: string): string {
  try {
    return normalizeLocation(value);
  } catch (err) {
    throw new ConfigError(key, (err as Error).message);
  }
}

/** How this process reaches s3:// storage (lib/storage). */
export function s3SettingsOf(c: ClusterConfig): S3Settings {
  return { endpoint: c.s3Endpoint, region: c.s3Region, pathStyle: c.s3PathStyle };
}

function range(c: ClusterConfig, key: keyof ClusterConfig, min: number, max: number): void {
  const v = c[key] as number;
  if (v < min || v > max) throw new ConfigError(key, `must be between ${min} and ${max}, got ${v}`);
}

/** Where clients may have savepoints written: the savepointDir and the extra roots. */
export function savepointRootsOf(c: ClusterConfig): string[] {
  return [c.savepointDir, ...c.savepointRoots].map((dir) => normalizeLocation(dir));
}

/** The secret must be set for any process that joins a cluster. */
export function requireSecret(c: ClusterConfig): string {
  if (c.secret.length < 16) {
    throw new ConfigError('secret', `must be at least 16 characters; set ${envName('secret')} or --secret (the local cluster script generates one)`);
  }
  return c.secret;
}

/** The client secret must be set for the CLI and other clients (they never use the node secret). */
export function requireClientSecret(c: ClusterConfig): string {
  if (c.clientSecret.length < 16) {
    throw new ConfigError(
      'clientSecret',
      `must be at least 16 characters; set ${envName('clientSecret')} or --client-secret (\`cluster start\` writes it to cluster.json)`,
    );
  }
  return c.clientSecret;
}
