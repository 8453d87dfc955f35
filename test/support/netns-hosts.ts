/**
 * Namespace test hosts for tests: the project's one implementation (scripts/support/netns/),
 * and `useNetnsHosts(n)`, which creates them before a file's tests and destroys them after.
 * A machine that cannot make them (not root, no `ip`/`nft`) fails the `before` hook with the
 * reason: never a skip.
 */
import { NetnsHosts } from '../../scripts/support/netns/hosts.js';

export * from '../../scripts/support/netns/hosts.js';
export * from '../../scripts/support/netns/errors.js';

export function useNetnsHosts(hosts: number): { readonly net: NetnsHosts } {
  const holder: { net?: NetnsHosts } = {};
  before(async function () {
    this.timeout(30_000);
    holder.net = await NetnsHosts.create({ hosts });
  });
  afterEach(async function () {
    // A failed test must not leave its partition for the next one.
    await holder.net?.healAll();
  });
  after(async function () {
    this.timeout(30_000);
    await holder.net?.destroy();
  });
  return {
    get net(): NetnsHosts {
      if (!holder.net) throw new Error('namespace hosts not created yet');
      return holder.net;
    },
  };
}
