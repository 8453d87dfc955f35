/**
 * The drill's client on namespace hosts, run inside the control host (the drill, in the root
 * namespace, reaches no host address). It serves the {@link DrillClient} calls as JSON over HTTP
 * on a Unix socket in the cluster's shared directory: a path, not a network address, so the
 * root namespace reaches it and nothing else does (the directory is the drill's own temp dir).
 *
 * Args: `--socket PATH`. Environment: the cluster's (FLINKISH_CLUSTER_ID, FLINKISH_CLIENT_SECRET,
 * FLINKISH_ETCD_ENDPOINTS and credentials). Prints `{ready:true}` once listening; SIGTERM stops it.
 *
 * Request: `POST /` with `{op:"submit",file,options} | {op:"status",jobId} | {op:"result",jobId} | {op:"leader"}`;
 * answer `{value}` or, with status 500, `{error:{code,message}}`.
 */
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ErrorCode } from '../../lib/errors.js';
import type { ClusterClient } from '../../lib/client/cluster-client.js';
import { clientFromEnv } from '../support/in-host-client.js';

/** Larger requests are refused before they are parsed (the calls are a few hundred bytes). */
const MAX_REQUEST_BYTES = 64 * 1024;

const { values } = parseArgs({ options: { socket: { type: 'string' } } });
const socket = values.socket;
if (!socket) {
  process.stderr.write('client-proxy: --socket PATH is required\n');
  process.exit(2);
}

const client = await clientFromEnv('drill-client');

type Call = { op: 'submit'; file: string; options: { parallelism?: number; args?: Record<string, unknown> } } | { op: 'status' | 'result'; jobId: string } | { op: 'leader' };

async function answer(call: Call): Promise<unknown> {
  switch (call.op) {
    case 'submit':
      return client.submitFile(call.file, call.options as Parameters<ClusterClient['submitFile']>[1]);
    case 'status':
      return client.status(call.jobId);
    case 'result':
      return client.result(call.jobId);
    case 'leader':
      return client.masterAddress;
  }
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) {
      res.writeHead(413).end();
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    };
    let call: Call;
    try {
      call = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Call;
    } catch {
      return reply(400, { error: { code: ErrorCode.InvalidArgument, message: 'the request is not JSON' } });
    }
    answer(call).then(
      (value) => reply(200, { value: value ?? null }),
      (err: Error & { code?: string }) => reply(500, { error: { code: err.code ?? ErrorCode.RemoteFailure, message: err.message } }),
    );
  });
});

rmSync(socket, { force: true });
server.listen(socket, () => process.stdout.write(JSON.stringify({ ready: true, socket }) + '\n'));
process.on('SIGTERM', () => {
  server.close();
  void client.close().finally(() => process.exit(0));
});
