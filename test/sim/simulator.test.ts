/**
 * The deterministic simulator (lib/sim): the real machines under seeded faults keep every
 * invariant; a seed replays exactly; each mutant (one safety mechanism off) is caught; the
 * command line refuses bad arguments and prints a failing seed's trace.
 */
import assert from 'node:assert/strict';
import { launch } from '../support/launcher.js';
import { runSeed } from '../../lib/sim/run.js';
import { MUTANTS, type Mutant } from '../../lib/sim/mutants.js';

/** The invariant each mutant must be caught by. */
const CAUGHT_BY: Record<Mutant, string[]> = {
  'te-session-check': ['fencing'],
  // A write of a Master that no longer leads: applied while another session (or none) holds the key, or after a newer one's.
  'etcd-write-guard': ['one-leader', 'fencing'],
  'step-down': ['one-leader'],
  'barrier-alignment': ['exactly-once'],
  'sink-commit': ['exactly-once'],
};

describe('deterministic simulator', function () {
  this.timeout(120_000);

  it('runs 300 seeds of 5 faults each with every invariant kept and the job finished', async () => {
    const failing: string[] = [];
    const unfinished: number[] = [];
    for (let seed = 1; seed <= 300; seed++) {
      const result = await runSeed(seed, { faults: 5, mutant: null });
      for (const v of result.violations) failing.push(`seed ${seed}: ${v.invariant} at ${v.at} ms: ${v.message}`);
      if (result.jobResult !== 'finished') unfinished.push(seed);
    }
    assert.deepEqual(failing, []);
    // Not an invariant (a job may fail for good reasons), but here every job has room to finish.
    assert.deepEqual(unfinished, [], `seeds whose job did not finish: ${unfinished.join(', ')}`);
  });

  it('runs 50 seeds of 20 faults crowded into 5.5 s with every invariant kept and the job finished', async () => {
    const failing: string[] = [];
    for (let seed = 1; seed <= 50; seed++) {
      const result = await runSeed(seed, { faults: 20, mutant: null, faultWindow: { startMs: 500, endMs: 6000 } });
      for (const v of result.violations) failing.push(`seed ${seed}: ${v.invariant} at ${v.at} ms: ${v.message}`);
      if (result.jobResult !== 'finished') failing.push(`seed ${seed}: the job ended ${result.jobResult ?? 'never'}`);
    }
    assert.deepEqual(failing, []);
  });

  it('replays a seed exactly: the same seed gives the same trace, another seed another', async () => {
    const first = await runSeed(42, { faults: 6, mutant: null });
    const again = await runSeed(42, { faults: 6, mutant: null });
    const other = await runSeed(43, { faults: 6, mutant: null });
    assert.ok(first.trace.length > 300, `a trace of ${first.trace.length} events`);
    assert.ok(first.trace.some((line) => / FAULT /.test(line)), 'the trace shows its faults');
    assert.deepEqual(again.trace, first.trace);
    assert.equal(again.steps, first.steps);
    assert.notDeepEqual(other.trace, first.trace);
  });

  it('reports liveness when the job cannot run once the faults stop (no TaskExecutor at all)', async () => {
    const result = await runSeed(1, { faults: 0, mutant: null, shape: { masters: 2, taskExecutors: 0, records: 60, keys: 3 }, livenessBoundMs: 5000 });
    assert.deepEqual(
      result.violations.map((v) => v.invariant),
      ['liveness'],
    );
    assert.equal(result.jobResult, null);
  });

  for (const mutant of Object.keys(MUTANTS) as Mutant[]) {
    it(`catches the mutant '${mutant}' (${MUTANTS[mutant]}) within 1000 seeds`, async () => {
      for (let seed = 1; seed <= 1000; seed++) {
        const result = await runSeed(seed, { faults: 5, mutant });
        if (result.violations.length === 0) continue;
        assert.ok(CAUGHT_BY[mutant].includes(result.violations[0]!.invariant), `seed ${seed}: ${result.violations[0]!.invariant}: ${result.violations[0]!.message}`);
        // And the failing seed replays to the same violation.
        const replay = await runSeed(seed, { faults: 5, mutant });
        assert.deepEqual(replay.violations, result.violations);
        return;
      }
      assert.fail(`no violation in 1000 seeds with the mutant '${mutant}'`);
    });
  }

  it('npm run sim refuses bad arguments with exit status 2 and says what is wrong', async () => {
    for (const [args, message] of [
      [['--seeds', 'ten'], /--seeds must be an integer from 1 to 100000000, got 'ten'/],
      [['--mutant', 'no-such'], /unknown mutant 'no-such': choose one of te-session-check/],
      [['--faults=-1'], /--faults must be an integer from 0 to 100, got '-1'/],
      [['--bogus'], /Unknown option '--bogus'/],
    ] as const) {
      const proc = await launch('scripts/sim/main.js', { args: [...args], readyWhen: (line) => line.startsWith('usage:'), name: 'sim' });
      await proc.waitForExit();
      assert.equal(proc.exitCode, 2, proc.tail());
      assert.match(proc.output.join('\n'), message);
    }
  });

  it('npm run sim prints a failing seed with its trace and the command that replays it, and the seeds per second', async () => {
    let seed = 1;
    while ((await runSeed(seed, { faults: 5, mutant: 'te-session-check' })).violations.length === 0) seed++;
    const proc = await launch('scripts/sim/main.js', {
      args: ['--seed', String(seed), '--mutant', 'te-session-check', '--full-trace'],
      readyWhen: (line) => line.includes(' seeds (from '),
      name: 'sim',
    });
    await proc.waitForExit();
    assert.equal(proc.exitCode, 1, proc.tail());
    const out = proc.output.join('\n');
    assert.match(out, new RegExp(`seed ${seed}: VIOLATION fencing at \\d+ ms: te-\\d#\\d+/taskexecutor accepted te\\.\\S+ of leader session \\d+ after one of session \\d+`));
    assert.match(out, /^ {2}\d+ START master-1$/m);
    assert.match(out, new RegExp(`seed ${seed}: replay with: npm run sim -- --seed ${seed} --faults 5 --mutant te-session-check`));
    assert.match(out, new RegExp(`1 seeds \\(from ${seed}, 5 faults each, mutant te-session-check\\) in [\\d.]+ s: [\\d.]+ seeds/s`));
  });
});
