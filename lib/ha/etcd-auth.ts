/**
 * How a process proves itself to etcd: a user and password (etcd's password authentication),
 * and/or TLS (a CA to verify etcd's server certificate, a client certificate and key for
 * etcd's `--client-cert-auth`). etcd holds job graphs with their code, which a recovering
 * leader imports, so every client the runtime creates is given these credentials.
 *
 * The password is a secret: it is never logged, and {@link describeEtcdCredentials} names
 * only what kind of credentials are in use.
 */
import { readFileSync } from 'node:fs';
import type { IOptions } from 'etcd3';
import { ConfigError } from '../errors.js';

export interface EtcdCredentials {
  /** etcd user for password authentication (with `password`). */
  username?: string;
  password?: string;
  /** PEM file of the CA that signs etcd's server certificate (TLS; https:// endpoints). */
  caFile?: string;
  /** PEM client certificate and its key, for etcd's `--client-cert-auth` (TLS). */
  certFile?: string;
  keyFile?: string;
}

/** The config keys that hold the credentials, as in lib/config.ts. */
export interface EtcdCredentialConfig {
  etcdUsername: string;
  etcdPassword: string;
  etcdCaFile: string;
  etcdCertFile: string;
  etcdKeyFile: string;
}

/** Credentials from the configuration (empty values mean "not used"). */
export function etcdCredentialsOf(config: EtcdCredentialConfig): EtcdCredentials {
  const c: EtcdCredentials = {};
  if (config.etcdUsername) c.username = config.etcdUsername;
  if (config.etcdPassword) c.password = config.etcdPassword;
  if (config.etcdCaFile) c.caFile = config.etcdCaFile;
  if (config.etcdCertFile) c.certFile = config.etcdCertFile;
  if (config.etcdKeyFile) c.keyFile = config.etcdKeyFile;
  return c;
}

const ENV = {
  username: 'FLINKISH_ETCD_USERNAME',
  password: 'FLINKISH_ETCD_PASSWORD',
  caFile: 'FLINKISH_ETCD_CA_FILE',
  certFile: 'FLINKISH_ETCD_CERT_FILE',
  keyFile: 'FLINKISH_ETCD_KEY_FILE',
} as const satisfies Record<keyof EtcdCredentials, string>;

/** The environment that hands these credentials to a child process (the config's env names). */
export function etcdCredentialEnv(credentials: EtcdCredentials): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of Object.keys(ENV) as Array<keyof EtcdCredentials>) {
    const value = credentials[key];
    if (value) env[ENV[key]] = value;
  }
  return env;
}

/** Credentials from `FLINKISH_ETCD_*` variables, for small programs that read no config. */
export function etcdCredentialsFromEnv(env: NodeJS.ProcessEnv = process.env): EtcdCredentials {
  const c: EtcdCredentials = {};
  for (const key of Object.keys(ENV) as Array<keyof EtcdCredentials>) {
    const value = env[ENV[key]];
    if (value) c[key] = value;
  }
  return c;
}

/** For logs: which kinds of credentials are used, never their values. */
export function describeEtcdCredentials(c: EtcdCredentials): { etcdAuth: string } {
  const kinds = [c.username ? `user ${c.username}` : '', c.caFile ? 'tls' : '', c.certFile ? 'client-cert' : ''].filter(Boolean);
  return { etcdAuth: kinds.length > 0 ? kinds.join('+') : 'none' };
}

/** Refuse half-configured credentials: naming the key and what to set. */
export function checkEtcdCredentials(c: EtcdCredentials): void {
  if (c.username && !c.password) throw new ConfigError('etcdPassword', 'must be set when etcdUsername is (set FLINKISH_ETCD_PASSWORD)');
  if (c.password && !c.username) throw new ConfigError('etcdUsername', 'must be set when etcdPassword is (set FLINKISH_ETCD_USERNAME)');
  if (Boolean(c.certFile) !== Boolean(c.keyFile)) throw new ConfigError(c.certFile ? 'etcdKeyFile' : 'etcdCertFile', 'etcdCertFile and etcdKeyFile go together');
}

function readPem(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(key, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The `auth` and `credentials` options of an etcd3 client. */
export function etcdSecurityOptions(c: EtcdCredentials): Pick<IOptions, 'auth' | 'credentials'> {
  checkEtcdCredentials(c);
  const options: Pick<IOptions, 'auth' | 'credentials'> = {};
  if (c.username && c.password) options.auth = { username: c.username, password: c.password };
  if (c.caFile || c.certFile) {
    options.credentials = {
      // Without a CA file, the system's roots verify etcd's certificate (grpc's default for null).
      rootCertificate: (c.caFile ? readPem('etcdCaFile', c.caFile) : null) as Buffer,
      ...(c.keyFile ? { privateKey: readPem('etcdKeyFile', c.keyFile) } : {}),
      ...(c.certFile ? { certChain: readPem('etcdCertFile', c.certFile) } : {}),
    };
  }
  return options;
}
