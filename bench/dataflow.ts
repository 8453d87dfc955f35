/**
 * Dataflow: a keyed word count on a local cluster (one TaskExecutor, two slots) against a plain
 * single-threaded loop that counts the same words; and a hash exchange between two TaskExecutor
 * processes against the same records over a raw socket with msgpackr.
 *
 * Job rates are measured from submission to the result, so they include deployment (worker
 * threads starting, code loading). The rates "excluding deployment" start instead when the
 * client first sees every subtask running (polled every 10 ms, so they err low by up to a poll
 * and a round trip): what the data plane moves once it runs.
 */
import net from 'node:net';
import { once } from 'node:events';
import path from 'node:path';
import { Packr } from 'msgpackr';
import { FrameBatch, FrameDecoder } from '../lib/transport/frame.js';
import { distRoot, killAll, launch } from '../scripts/support/launcher.js';
import { startCluster } from '../scripts/support/standalone-cluster.js';
import { waitFor } from '../scripts/support/wait.js';
import { round, writeResult } from './support/report.js';

const jobFile = (name: string) => path.join(distRoot, 'bench', 'jobs', `${name}.js`);

function plainWordCount(lines: number, words = 8, vocabulary = 100): number {
  const start = process.hrtime.bigint();
  const counts = new Map<string, number>();
  let n = 0;
  for (let i = 0; i < lines; i++) {
    const line = Array.from({ length: words }, (_, j) => `w${(i * 31 + j * 17) % vocabulary}`).join(' ');
    for (const word of line.split(' ')) {
      counts.set(word, (counts.get(word) ?? 0) + 1);
      n++;
    }
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

interface JobRates {
  /** Records per second from submission to the result. */
  total: number;
  /** Records per second from every subtask seen running to the result. */
  running: number;
}

async function jobRate(taskExecutors: number, slots: number, job: string, args: Record<string, unknown>, parallelism: number, records: number): Promise<JobRates> {
  const cluster = await startCluster({ taskExecutors, slots, slotMemoryMb: 512 });
  try {
    const client = await cluster.client();
    await waitFor('the slots', async () => (await client.overview()).slotsTotal === taskExecutors * slots, { timeoutMs: 15_000 });
    const start = Date.now();
    let allRunning: number | null = null;
    const jobId = await client.submitFile(jobFile(job), { parallelism, args });
    const result = await client.waitForResult(jobId, {
      pollMs: 10,
      onProgress: (details) => {
        const started = details.subtasks.length > 0 && details.subtasks.every((s) => s.state === 'running' || s.state === 'finished');
        if (allRunning === null && started) allRunning = Date.now();
      },
    });
    const end = Date.now();
    if (result.state !== 'finished') throw new Error(`benchmark job ${result.state}: ${result.failure?.message}`);
    // A job that ends before any poll sees it running: its whole time counts as running.
    return { total: records / ((end - start) / 1000), running: records / ((end - (allRunning ?? start)) / 1000) };
  } finally {
    await cluster.stop();
  }
}

async function rawShuffle(records: number): Promise<number> {
  const receiver = await launch('bench/support/raw-receiver.js', { name: 'raw-receiver' });
  try {
    const packr = new Packr({ useRecords: false });
    const socket = net.connect({ host: '127.0.0.1', port: Number(receiver.ready['port']) });
    socket.setNoDelay(true);
    await once(socket, 'connect');
    const decoder = new FrameDecoder(1 << 20);
    let reply: number | null = null;
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, (f) => (reply = (packr.unpack(f) as { n: number }).n)));
    const start = process.hrtime.bigint();
    // Records batched as the data plane does: an array of records per frame, ~32 KiB buffers.
    const perFrame = 4096;
    let batch = new FrameBatch();
    for (let i = 0; i < records; i += perFrame) {
      const chunk = Array.from({ length: Math.min(perFrame, records - i) }, (_, j) => i + j);
      batch.append(packr.pack(chunk));
      if (batch.size >= 256 * 1024) {
        if (!socket.write(batch.take())) await once(socket, 'drain');
        batch = new FrameBatch();
      }
    }
    batch.append(packr.pack({ type: 'count' }));
    socket.write(batch.take());
    while (reply === null) await new Promise((resolve) => setImmediate(resolve));
    socket.destroy();
    return records / (Number(process.hrtime.bigint() - start) / 1e9);
  } finally {
    await receiver.stop();
  }
}

export async function run(quick: boolean): Promise<void> {
  // 20 M words in a full run (4 M until #17): deployment, a fixed ~0.15 s, was a seventh of the 4 M run.
  const lines = quick ? 100_000 : 2_500_000;
  const words = lines * 8;
  // 50 M in a full run (10 M before): deployment, a fixed ~0.2-0.5 s, was a third of the 10 M run.
  const shuffleRecords = quick ? 2_000_000 : 50_000_000;
  try {
    plainWordCount(lines / 10); // warm-up
    const plain = Math.max(plainWordCount(lines), plainWordCount(lines));
    const job = await jobRate(1, 2, 'wordcount-discard', { lines }, 2, words);
    const shuffle = await jobRate(2, 1, 'shuffle', { records: shuffleRecords }, 2, shuffleRecords);
    const raw = await rawShuffle(shuffleRecords);
    writeResult({
      name: 'dataflow',
      quick,
      metrics: {
        job_records_per_s: Math.round(job.total),
        job_records_per_s_excluding_deployment: Math.round(job.running),
        shuffle_records_per_s: Math.round(shuffle.total),
        shuffle_records_per_s_excluding_deployment: Math.round(shuffle.running),
        words,
        shuffle_records: shuffleRecords,
      },
      baselines: { plain_loop_records_per_s: Math.round(plain), raw_net_msgpackr_records_per_s: Math.round(raw) },
      ratios: {
        job_vs_plain_loop: round(job.total / plain),
        job_excluding_deployment_vs_plain_loop: round(job.running / plain),
        shuffle_vs_raw: round(shuffle.total / raw),
        shuffle_excluding_deployment_vs_raw: round(shuffle.running / raw),
      },
      notes: [
        'job rates include deployment (submission to result), those excluding it start when every subtask is seen running (10 ms polls)',
        'the shuffle job runs 2 subtasks on 2 TaskExecutors, half its records cross processes',
        'a full run shuffles 50 M records (10 M until #17: deployment, a fixed cost, was a third of that run) and counts 20 M words (4 M until #17, where deployment was a seventh)',
        'TaskExecutors keep 2 spare task threads per slot started (lib/task/spare-workers.ts): deployment no longer waits for threads to boot',
      ],
    });
  } finally {
    await killAll();
  }
}
