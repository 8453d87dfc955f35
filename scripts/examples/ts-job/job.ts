// A job as a user writes it in a project of their own: TypeScript, a local import and an npm
// package. `npx flinkish run scripts/examples/ts-job/job.ts` bundles it on the client (esbuild);
// it is not part of our build (tsconfig.json excludes this folder).
import type { StreamEnvironment } from 'flinkish';
import ms from 'ms'; // an npm dependency, bundled
import { threshold } from './settings.js'; // a local module, bundled

export default function slowCalls(env: StreamEnvironment): void {
  env
    .fromGenerator((i) => (i * 7919) % 5000, 100_000)
    .filter((millis: number) => millis > threshold)
    .map((millis: number) => ms(millis, { long: true }))
    .collect();
}
