/** How an attached `run` shows a job: a live line on a terminal, plain lines otherwise. */
import type { JobDetails, JobResult } from '../actors/jobmaster/status.js';

let lastLine = '';

export function summarize(details: JobDetails): string {
  const counts = new Map<string, number>();
  let recordsIn = 0;
  let recordsOut = 0;
  for (const s of details.subtasks) {
    counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
    recordsIn += s.metrics.recordsIn;
    recordsOut += s.metrics.recordsOut;
  }
  const tasks = [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
  const completed = details.checkpoints.filter((c) => c.status === 'completed');
  const checkpoints = details.checkpoints.length > 0 ? `; checkpoints ${completed.length} completed (latest ${completed.at(-1)?.id ?? '-'})` : '';
  const restarts = details.restarts > 0 ? `; ${details.restarts} restarts` : '';
  return `job ${details.state}: ${tasks || 'no subtasks yet'}; records in ${recordsIn}, out ${recordsOut}${checkpoints}${restarts}`;
}

export function printProgress(details: JobDetails): void {
  const line = summarize(details);
  if (process.stderr.isTTY) {
    process.stderr.write(`\r\x1b[K${line}`);
  } else if (line !== lastLine) {
    process.stderr.write(`${line}\n`);
  }
  lastLine = line;
}

export function printResult(result: JobResult): void {
  if (process.stderr.isTTY && lastLine) process.stderr.write('\n');
  const seconds = ((result.endedAt - result.submittedAt) / 1000).toFixed(2);
  const stopped = result.stoppedWithSavepoint ? `, stopped with savepoint ${result.stoppedWithSavepoint}` : '';
  process.stderr.write(`job ${result.jobId} ${result.state} in ${seconds} s${stopped}\n`);
  if (result.failure) process.stderr.write(`cause [${result.failure.code}]: ${result.failure.message}\n`);
  for (const record of result.collected) process.stdout.write(`${typeof record === 'string' ? record : JSON.stringify(record)}\n`);
}
