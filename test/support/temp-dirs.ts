/**
 * Temp dirs that a test makes and that are always removed, whether the test passed or failed.
 *
 * @example
 * describe('file sink', () => {
 *   const tempDir = useTempDirs();            // removed after each test
 *   it('...', () => { const dir = tempDir('file-sink'); ... });
 * });
 *
 * When processes or threads write into the dirs, stop them first and remove the dirs in a `finally` of
 * the same hook (`dirs.removeAll()`): mocha skips a suite's later hooks once one of them throws.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Makes temp dirs under the OS temp dir and removes every one it made on `removeAll()`. */
export class TempDirs {
  private readonly dirs: string[] = [];

  /** A new empty dir `<tmpdir>/<name>-XXXXXX`. */
  make(name: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), `${name}-`));
    this.dirs.push(dir);
    return dir;
  }

  removeAll(): void {
    // The retries cover a file that a stopping writer still creates while the tree is being removed.
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * Inside a `describe` whose dirs nothing else writes into: returns a maker of temp dirs that are removed after
 * each test (`'each'`) or after the describe's last test (`'all'`), also when a test fails.
 */
export function useTempDirs(when: 'each' | 'all' = 'each'): (name: string) => string {
  const dirs = new TempDirs();
  (when === 'each' ? afterEach : after)(() => dirs.removeAll());
  return (name) => dirs.make(name);
}
