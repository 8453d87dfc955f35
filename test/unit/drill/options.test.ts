/** The drill's option check: what each cluster kind takes, and the operator errors for the rest. */
import assert from 'node:assert/strict';
import { ErrorCode, RuntimeError } from '../../../lib/errors.js';
import { FaultKinds, HostFaultKinds } from '../../../scripts/drill/faults.js';
import { defaultKinds, drillOptionProblems, validateDrillOptions } from '../../../scripts/drill/options.js';

describe('drill options - which faults run where, and clear errors', () => {
  it('takes the local kinds locally, and every kind but etcd-kill on hosts, by default', () => {
    assert.deepEqual(defaultKinds(undefined), [...FaultKinds]);
    assert.deepEqual(defaultKinds(7), ['leader-kill', 'leader-pause', 'te-kill', ...HostFaultKinds]);
    assert.deepEqual(drillOptionProblems({ kinds: defaultKinds(undefined), taskExecutors: 3 }), []);
    assert.deepEqual(drillOptionProblems({ hosts: 7, kinds: defaultKinds(7), taskExecutors: 3 }), []);
  });

  it('refuses host faults without --hosts, naming them and the flag to add', () => {
    const [problem, ...rest] = drillOptionProblems({ kinds: ['te-kill', 'partition-leader', 'host-kill'], taskExecutors: 3 });
    assert.deepEqual(rest, []);
    assert.match(problem!, /^partition-leader, host-kill need a cluster on several hosts: add --hosts 7/);
  });

  it('refuses too few hosts or TaskExecutors, saying how many it needs', () => {
    for (const hosts of [1, 6, 254, 6.5]) {
      const problems = drillOptionProblems({ hosts, kinds: ['partition-te'], taskExecutors: 3 });
      assert.equal(problems.length, 1, `--hosts ${hosts}: ${problems.join('; ')}`);
      assert.match(problems[0]!, new RegExp(`^--hosts ${hosts}: a drill on hosts needs 7 to 253 hosts .*give --hosts 7 or more$`));
    }
    assert.match(drillOptionProblems({ hosts: 7, kinds: ['partition-te'], taskExecutors: 2 })[0]!, /--task-executors 2 with --hosts: .*give --task-executors 3 or more/);
  });

  it('refuses etcd-kill on hosts and points to partition-etcd-member', () => {
    assert.match(drillOptionProblems({ hosts: 7, kinds: ['etcd-kill'], taskExecutors: 3 })[0]!, /etcd-kill cannot run with --hosts .*use partition-etcd-member/);
  });

  it('takes with --cluster the kinds the agents can inject, and refuses those that need a process or host started', () => {
    assert.deepEqual(defaultKinds(undefined, true), ['leader-kill', 'leader-pause', 'te-kill', 'partition-leader', 'partition-te', 'partition-etcd-member', 'one-way-partition']);
    assert.deepEqual(drillOptionProblems({ cluster: true, kinds: defaultKinds(undefined, true), taskExecutors: 3 }), []);
    const [problem, ...rest] = drillOptionProblems({ cluster: true, kinds: ['te-kill', 'etcd-kill', 'host-kill'], taskExecutors: 3 });
    assert.deepEqual(rest, []);
    assert.match(problem!, /^etcd-kill, host-kill: not available with --cluster .*start nothing.*; choose from leader-kill, /);
    assert.match(drillOptionProblems({ cluster: true, hosts: 7, kinds: ['te-kill'], taskExecutors: 3 })[0]!, /--hosts and --cluster exclude each other/);
  });

  it('throws INVALID_ARGUMENT with every problem at once', () => {
    assert.throws(
      () => validateDrillOptions({ hosts: 3, kinds: ['etcd-kill'], taskExecutors: 1 }),
      (err: unknown) => err instanceof RuntimeError && err.code === ErrorCode.InvalidArgument && (err.details['problems'] as string[]).length === 3,
    );
    assert.throws(() => validateDrillOptions({ kinds: [], taskExecutors: 3 }), /no fault kinds/);
  });
});
