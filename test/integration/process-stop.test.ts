import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { once } from 'node:events';
import { killAll, launch } from '../support/launcher.js';
import { waitFor } from '../support/wait.js';
import { isStopped } from '../../lib/util/process-stop.js';

/** Each thread's state as the kernel reports it, read here independently of the code under test. */
const states = (pid: number): string[] =>
  readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  });

describe('pausing a process - SIGSTOP that has taken effect', function () {
  this.timeout(30_000);
  afterEach(() => killAll());

  it('pause() resolves once every thread of a busy process is stopped; it answers nothing until resumed', async () => {
    // Busy threads on both cores, and CPU burners beside them: the stop is not immediate.
    const [burner] = await Promise.all([1, 2].map((i) => launch('test/fixtures/busy-echo.js', { name: `burner-${i}` })));
    const proc = await launch('test/fixtures/busy-echo.js', { name: 'busy-echo' });
    const echoes = async (port: number): Promise<{ write: (b: string) => void; count: () => number; close: () => void }> => {
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      let n = 0;
      socket.on('data', (data) => (n += data.length));
      return { write: (b) => socket.write(b), count: () => n, close: () => socket.destroy() };
    };
    const paused = await echoes(Number(proc.ready['port']));
    // A live process as loaded as the paused one: the time of its round trips is what the paused one gets to answer in.
    const live = await echoes(Number(burner!.ready['port']));
    paused.write('a');
    await waitFor('the echo', () => paused.count() === 1);

    for (let round = 0; round < 5; round++) {
      await proc.pause();
      const now = states(proc.pid);
      assert.ok(now.length >= 3 && now.every((s) => s === 'T'), `every thread stopped when pause() resolves: ${now.join('')}`);
      paused.write('b');
      // Stopped: it cannot answer in the time the live one answers 20 times over.
      for (let trip = 1; trip <= 20; trip++) {
        const before = live.count();
        live.write('x');
        await waitFor('a round trip to the live process', () => live.count() === before + 1);
      }
      assert.equal(paused.count(), 1 + round, 'a paused process echoed');
      proc.resume();
      await waitFor('the echo after the resume', () => paused.count() === 2 + round);
      assert.equal(isStopped(proc.pid), false);
    }
    paused.close();
    live.close();
  });
});
