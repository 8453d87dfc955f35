/**
 * Framing and decode limits: what bounded decoding costs on the receive path.
 *
 * - assembly: a large frame arriving in 64 KiB chunks through FrameDecoder, against a plain
 *   copy of the same chunks into one buffer (the memcpy ceiling, baseline). Linear assembly
 *   means the ratio stays near 1 whatever the frame's size (the old decoder re-copied the
 *   pending frame on every chunk: 30–37 s for 63 MiB).
 * - pre-scan: checkDecodeBudget over a frame of 1000 collected records, against msgpackr
 *   decoding the same frame (baseline): the scan is paid on every control frame.
 */
import { Packr } from 'msgpackr';
import { FrameDecoder, encodeFrame } from '../lib/transport/frame.js';
import { checkDecodeBudget, DEFAULT_DECODE_BYTES_PER_FRAME_BYTE } from '../lib/transport/decode-budget.js';
import { round, writeResult } from './support/report.js';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function bestOf(runs: number, measure: () => number): number {
  let top = 0;
  for (let i = 0; i < runs; i++) top = Math.max(top, measure());
  return top;
}

function assembleMiBPerS(wire: Buffer): number {
  const decoder = new FrameDecoder(wire.length);
  let frames = 0;
  const start = process.hrtime.bigint();
  for (let at = 0; at < wire.length; at += CHUNK) decoder.push(wire.subarray(at, at + CHUNK), () => frames++);
  const s = seconds(start);
  if (frames !== 1) throw new Error(`assembled ${frames} frames`);
  return wire.length / MiB / s;
}

function copyMiBPerS(wire: Buffer): number {
  const target = Buffer.allocUnsafe(wire.length);
  const start = process.hrtime.bigint();
  for (let at = 0; at < wire.length; at += CHUNK) wire.copy(target, at, at, Math.min(wire.length, at + CHUNK));
  return wire.length / MiB / seconds(start);
}

function framesPerS(n: number, work: () => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) work();
  return n / seconds(start);
}

export async function run(quick: boolean): Promise<void> {
  const runs = quick ? 2 : 5;
  const frameMiB = quick ? 16 : 63;
  const wire = encodeFrame(Buffer.alloc(frameMiB * MiB, 1));
  const assembly = bestOf(runs, () => assembleMiBPerS(wire));
  const copy = bestOf(runs, () => copyMiBPerS(wire));

  const packr = new Packr({ useRecords: false });
  const records = Array.from({ length: 1000 }, (_, i) => ({ word: `word-${i % 97}`, count: i }));
  const frame = packr.pack([1, 'jobmaster-0123', { type: 'jm.task.collect', executionId: 'e-1', records }]);
  const budget = { perFrameByte: DEFAULT_DECODE_BYTES_PER_FRAME_BYTE, maxBytes: 64 * MiB };
  const n = quick ? 2000 : 10_000;
  const scan = bestOf(runs, () => framesPerS(n, () => checkDecodeBudget(frame, budget)));
  const decode = bestOf(runs, () => framesPerS(n, () => packr.unpack(frame)));

  writeResult({
    name: 'framing',
    quick,
    metrics: {
      assembly_mib_per_s: Math.round(assembly),
      prescan_frames_per_s: Math.round(scan),
      frame_mib: frameMiB,
      collect_frame_bytes: frame.length,
    },
    baselines: {
      chunk_copy_mib_per_s: Math.round(copy),
      msgpackr_decode_frames_per_s: Math.round(decode),
    },
    ratios: {
      assembly_vs_copy: round(assembly / copy),
      prescan_cost_vs_decode: round(decode / scan),
    },
    notes: [`best of ${runs} runs; ${CHUNK / 1024} KiB chunks; pre-scan and decode of a ${frame.length}-byte frame of 1000 records`],
  });
}
