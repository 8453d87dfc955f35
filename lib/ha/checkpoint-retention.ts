/** Which completed checkpoints to keep: pure logic shared by the etcd and in-memory stores. */
import type { CheckpointMetadata } from './types.js';

/**
 * Add `added` to `existing` and keep the `retain` checkpoints with the highest ids. Returns
 * the kept ones and the subsumed ones, both oldest first. Re-adding an id replaces it; an
 * `added` older than all `retain` kept ones is itself subsumed (the caller deletes its files).
 */
export function retainLatest(
  existing: readonly CheckpointMetadata[],
  added: CheckpointMetadata,
  retain: number,
): { kept: CheckpointMetadata[]; subsumed: CheckpointMetadata[] } {
  if (!Number.isInteger(retain) || retain < 1) throw new RangeError(`retain must be a positive integer, got ${retain}`);
  const all = [...existing.filter((c) => c.checkpointId !== added.checkpointId), added].sort(
    (a, b) => a.checkpointId - b.checkpointId,
  );
  const cut = Math.max(0, all.length - retain);
  return { kept: all.slice(cut), subsumed: all.slice(0, cut) };
}
