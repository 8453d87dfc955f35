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
    await Promise.all([1, 2].map((i) => launch('test/fixtures/busy-echo.js', { name: `burner-${i}` })));
    const proc = await launch('test/fixtures/busy-echo.js', { name: 'busy-echo' });
    const socket = connect(Number(proc.ready['port']), '127.0.0.1');
    await once(socket, 'connect');
    let echoed = 0;
    socket.on('data', (data) => (echoed += data.length));
    socket.write('a');
    await waitFor('the echo', () => echoed === 1);

    for (let round = 0; round < 5; round++) {
      await proc.pause();
      const now = states(proc.pid);
      assert.ok(now.length >= 3 && now.every((s) => s === 'T'), `every thread stopped when pause() resolves: ${now.join('')}`);
      socket.write('b');
      // Stopped: nothing can answer, however long we wait (the burners keep the machine loaded).
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(echoed, 1 + round, 'a paused process echoed');
      proc.resume();
      await waitFor('the echo after the resume', () => echoed === 2 + round);
      assert.equal(isStopped(proc.pid), false);
    }
    socket.destroy();
  });
});
