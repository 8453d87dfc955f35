/**
 * Reference counting of checkpoint files through the completed checkpoint store (Flink's
 * SharedStateRegistry, without its in-memory registry: the store's retained checkpoints are the
 * references, so a new leader counts the same).
 *
 * A completed checkpoint refers to its own files (each handle's `path`) and, when incremental,
 * to earlier checkpoints' files that hold its unchanged key groups (each handle's `shared`). A
 * file may be deleted once no retained checkpoint refers to it: when checkpoints are subsumed,
 * their files that no retained checkpoint refers to go, wherever they lie. A checkpoint whose
 * subtasks refer to a file that no retained checkpoint holds any more (a subtask heard late of
 * a completion, and based on a checkpoint subsumed meanwhile) is not stored: it would restore
 * from a file that is gone or going.
 *
 * Pure functions over metadata; checkpointing.ts does the I/O, one store at a time.
 */
import { normalizeLocation, parentOf } from '../../lib/storage/index.js';
import type { StateHandle } from '../../lib/task/descriptor.js';

/** The part of a completed checkpoint's metadata this needs. */
export interface CheckpointFiles {
  readonly dir: string;
  readonly handles: readonly StateHandle[];
}

/** Every file a checkpoint refers to: its own and the earlier ones it shares. */
export function filesOf(checkpoint: CheckpointFiles): string[] {
  const files: string[] = [];
  for (const h of checkpoint.handles) {
    files.push(normalizeLocation(h.path));
    for (const shared of h.shared ?? []) files.push(normalizeLocation(shared));
  }
  return files;
}

/** Files `checkpoint` shares that no checkpoint of `retained` refers to (it must not be stored then). */
export function unheldSharedFiles(checkpoint: CheckpointFiles, retained: readonly CheckpointFiles[]): string[] {
  const held = new Set(retained.flatMap(filesOf));
  const unheld = new Set<string>();
  for (const h of checkpoint.handles) for (const shared of h.shared ?? []) if (!held.has(normalizeLocation(shared))) unheld.add(normalizeLocation(shared));
  return [...unheld];
}

export interface Release {
  /** Files of the released checkpoints no retained checkpoint refers to: to delete. */
  readonly files: string[];
  /** Files the retained checkpoints refer to: kept in any directory cleaned. */
  readonly referenced: ReadonlySet<string>;
  /** Directories to clean of everything not referenced: the released checkpoints' own, and those of the files to delete. */
  readonly dirs: string[];
}

/** What goes when `released` checkpoints leave the store and `retained` stay. */
export function releaseFiles(released: readonly CheckpointFiles[], retained: readonly CheckpointFiles[]): Release {
  const referenced = new Set(retained.flatMap(filesOf));
  const files = [...new Set(released.flatMap(filesOf))].filter((f) => !referenced.has(f));
  const dirs = new Set([...released.map((c) => normalizeLocation(c.dir)), ...files.map(parentOf)]);
  return { files, referenced, dirs: [...dirs] };
}
