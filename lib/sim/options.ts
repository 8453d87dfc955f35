/**
 * The simulator's command line: `--seeds N [--seed S] [--faults K] [--mutant NAME]
 * [--full-trace]`. A bad argument is an error that says what is wrong and what is allowed.
 */
import { parseArgs } from 'node:util';
import { isMutant, MUTANTS, type Mutant } from './mutants.js';

export interface SimOptions {
  /** How many seeds to run, from `firstSeed` on. */
  seeds: number;
  firstSeed: number;
  faults: number;
  mutant: Mutant | null;
  /** Print a failing seed's whole trace, not only its end. */
  fullTrace: boolean;
}

export class SimUsageError extends Error {
  override name = 'SimUsageError';
}

export const USAGE = `usage: npm run sim -- [--seeds N] [--seed S] [--faults K] [--mutant NAME] [--full-trace]
  --seeds N      seeds to run (default 100; 1 with --seed alone)
  --seed S       first seed (default 1): --seed S alone replays seed S
  --faults K     faults per seed (default 5)
  --mutant NAME  disable one safety mechanism: ${Object.keys(MUTANTS).join(', ')}
  --full-trace   print a failing seed's whole trace (default: its last 300 events)`;

export function parseSimArgs(argv: readonly string[]): SimOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        seeds: { type: 'string' },
        seed: { type: 'string' },
        faults: { type: 'string' },
        mutant: { type: 'string' },
        'full-trace': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new SimUsageError((err as Error).message);
  }
  const { values } = parsed;
  if (values.help) throw new SimUsageError('');
  const firstSeed = integer('--seed', values.seed, 1, 0, 2 ** 32 - 1);
  const seeds = integer('--seeds', values.seeds, values.seed !== undefined ? 1 : 100, 1, 100_000_000);
  const faults = integer('--faults', values.faults, 5, 0, 100);
  const mutant = values.mutant ?? null;
  if (mutant !== null && !isMutant(mutant)) throw new SimUsageError(`unknown mutant '${mutant}': choose one of ${Object.keys(MUTANTS).join(', ')}`);
  return { seeds, firstSeed, faults, mutant, fullTrace: values['full-trace'] ?? false };
}

function integer(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new SimUsageError(`${flag} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return n;
}
