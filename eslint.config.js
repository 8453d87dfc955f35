// Lint: only the rules that catch bugs tsc does not. The type-checked rules find promises that
// are dropped (a rejection nobody handles, an effect nobody waits for) or passed where a
// callback's result is ignored; style is left to review and the code's own conventions.
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const CLOCK_MESSAGE =
  'use the injected Clock (lib/util/clock.ts: clock.now(), clock.setTimeout(fn, ms, { unref }), every(clock, ms, fn)); realClock where time must be real';

export default defineConfig(
  // scripts/examples/ts-job is a user's job, bundled by the CLI, outside our build.
  { ignores: ['dist/**', 'node_modules/**', 'scripts/examples/ts-job/**'] },
  {
    files: ['lib/**/*.ts', 'actors/**/*.ts', 'scripts/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise neither awaited nor handled: its rejection is lost, or crashes the process.
      '@typescript-eslint/no-floating-promises': 'error',
      // An async function where a void callback is expected (event handlers, forEach, setTimeout):
      // its rejection goes nowhere; a promise in a condition is always truthy.
      '@typescript-eslint/no-misused-promises': 'error',
      // `await` on something that is not a promise: usually a missing call or a wrong type.
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    // Time is injected (lib/util/clock.ts): a timer or a clock read that bypasses the Clock runs on
    // real time where a test or the simulator expects simulated time. Only the real clock itself
    // touches Node's timers; the dashboard's script runs in the browser.
    files: ['lib/**/*.ts', 'actors/**/*.ts'],
    ignores: ['lib/util/clock.ts', 'lib/dashboard/script.ts'],
    rules: {
      'no-restricted-globals': ['error', ...['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'].map((name) => ({ name, message: CLOCK_MESSAGE }))],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: CLOCK_MESSAGE },
        ...['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'].map((property) => ({ object: 'globalThis', property, message: CLOCK_MESSAGE })),
      ],
      'no-restricted-imports': ['error', { paths: ['timers', 'node:timers', 'timers/promises', 'node:timers/promises'].map((name) => ({ name, message: CLOCK_MESSAGE })) }],
    },
  },
);
