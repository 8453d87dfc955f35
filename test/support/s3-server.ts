/**
 * A real S3-compatible server for tests: `s3rver` (the S3 REST API served from a directory)
 * in its own process, on an ephemeral loopback port, with its data in a temp directory.
 * Nothing in lib/ knows it is s3rver: tests reach it through the endpoint and credentials
 * any S3 store (MinIO, Ceph RGW) would be given.
 *
 * Run as a program (`node dist/test/support/s3-server.js ADDRESS DIR BUCKET...`) this file IS
 * the server: it prints `{"ready":true,"endpoint"}` once it listens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, type LaunchOptions, type Proc } from './launcher.js';

/** s3rver's fixed credentials (what its signature check accepts). */
export const S3RVER_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } as const;

export interface TestS3Server {
  readonly endpoint: string;
  readonly proc: Proc;
  /** Environment for a client or cluster process: credentials, region (the endpoint goes in config). */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

/** A host the server can run on (a NetnsHost of scripts/support/netns/hosts.ts fits). */
export interface S3ServerHost {
  readonly address: string;
  launch(script: string, options: Omit<LaunchOptions, 'command'>): Promise<Proc>;
}

/** On loopback by default; with `host`, inside that test host on its address (the store on its own host). */
export async function startS3Server(buckets: readonly string[], options: { host?: S3ServerHost } = {}): Promise<TestS3Server> {
  const dir = mkdtempSync(path.join(tmpdir(), 'flinkish-s3-'));
  const host = options.host;
  let proc: Proc;
  try {
    const launchOptions = { args: [host?.address ?? '127.0.0.1', dir, ...buckets], name: 's3rver' };
    proc = await (host ? host.launch('test/support/s3-server.js', launchOptions) : launch('test/support/s3-server.js', launchOptions));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    endpoint: String(proc.ready['endpoint']),
    proc,
    env: { ...S3RVER_CREDENTIALS, AWS_REGION: 'us-east-1' },
    async stop() {
      try {
        await proc.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [bindAddress, dir, ...buckets] = process.argv.slice(2);
  if (!bindAddress || !dir) throw new Error('usage: s3-server.js ADDRESS DIR BUCKET...');
  // s3rver has no type declarations; its constructor options are documented in its README.
  const { default: S3rver } = (await import('s3rver' as string)) as { default: new (options: Record<string, unknown>) => { run(): Promise<{ address: string; port: number }>; close(): Promise<void> } };
  const server = new S3rver({
    address: bindAddress,
    port: 0,
    directory: dir,
    silent: true,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  const { address, port } = await server.run();
  const stop = () => void server.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(JSON.stringify({ ready: true, endpoint: `http://${address}:${port}` }) + '\n');
}
