/**
 * Ending the pacing of the keyed-count job (scripts/jobs/keyed-count.ts): a run paced to last
 * through the faults planned for it need not be paced once they are done. Its `unpacedBy` arg
 * names a file; once that exists, the source runs its remaining records at full speed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The file, in the job's output directory (the exactly-once check reads only `part-*` files there). */
export function unpacedFileOf(output: string): string {
  return path.join(output, '_unpaced');
}

/** Let the job writing to `output` (submitted with `unpacedBy: unpacedFileOf(output)`) run at full speed. */
export function unpace(output: string): void {
  mkdirSync(output, { recursive: true });
  writeFileSync(unpacedFileOf(output), '');
}
