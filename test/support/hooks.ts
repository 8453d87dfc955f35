/** Mocha root hooks: no test file leaves a process behind. */
import { killAll } from './launcher.js';

// Quiet by default; LOG_LEVEL=debug npm test shows everything.
process.env['LOG_LEVEL'] ??= 'silent';

export const mochaHooks = {
  async afterAll(): Promise<void> {
    await killAll();
  },
};
