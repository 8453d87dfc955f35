/** `npm run bench -- NAME [--quick]`: runs one benchmark (or `all`). */
const benches: Record<string, () => Promise<{ run(quick: boolean): Promise<void> }>> = {
  messaging: () => import('./messaging.js'),
  singleton: () => import('./singleton.js'),
  dataflow: () => import('./dataflow.js'),
  failover: () => import('./failover.js'),
  checkpoint: () => import('./checkpoint.js'),
  framing: () => import('./framing.js'),
  scale: () => import('./scale.js'),
  hosts: () => import('./hosts.js'),
  nexmark: () => import('./nexmark.js'),
};

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const names = args.filter((a) => !a.startsWith('--'));
const unknownFlags = args.filter((a) => a.startsWith('--') && a !== '--quick');
if (names.length === 0 || unknownFlags.length > 0 || names.some((n) => n !== 'all' && !(n in benches))) {
  console.error(`usage: npm run bench -- NAME [--quick]\n  NAME: ${Object.keys(benches).join(', ')}, or all`);
  process.exit(2);
}
for (const name of names.includes('all') ? Object.keys(benches) : names) {
  const bench = await benches[name]!();
  await bench.run(quick);
}
process.exit(0);
