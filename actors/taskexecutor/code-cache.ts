/**
 * Job code on a TaskExecutor: fetched from the Master by content hash on first use, written
 * atomically into a cache directory, and reused by every later task of the same code. No
 * shared filesystem is assumed.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { ActorRef } from '../../lib/index.js';
import { RuntimeError } from '../../lib/errors.js';
import { writeFileAtomic } from '../../lib/util/atomic-file.js';
import type { MasterMessage } from '../master/protocol.js';
import { TaskExecutorErrorCode } from './errors.js';

export class CodeCache {
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(
    private readonly dir: string,
    private readonly fetchTimeoutMs = 10_000,
  ) {}

  /** The local path of the module with `hash`, fetching it from `master` if needed. */
  fetch(hash: string, master: ActorRef<MasterMessage>): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(hash)) return Promise.reject(new RuntimeError(TaskExecutorErrorCode.InvalidCodeHash, `invalid code hash '${hash}'`));
    let pending = this.inFlight.get(hash);
    if (!pending) {
      pending = this.load(hash, master).finally(() => this.inFlight.delete(hash));
      this.inFlight.set(hash, pending);
    }
    return pending;
  }

  private async load(hash: string, master: ActorRef<MasterMessage>): Promise<string> {
    const file = path.join(this.dir, `${hash}.mjs`);
    if (await exists(file)) return file;
    const code = await master.ask({ type: 'master.code.get', hash }, { timeoutMs: this.fetchTimeoutMs });
    const actual = createHash('sha256').update(code).digest('hex');
    if (actual !== hash) throw new RuntimeError(TaskExecutorErrorCode.CodeHashMismatch, `job code from the Master hashes to ${actual}, expected ${hash}`);
    await writeFileAtomic(file, code);
    return file;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
