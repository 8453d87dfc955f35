/** A process hosting the bench counter; prints its ready line. */
import { ActorSystem } from '../../lib/index.js';
import { benchCluster, benchCounter } from './machines.js';

const system = await ActorSystem.start({ ...benchCluster, name: 'bench-counter' });
system.spawn('counter', benchCounter);
process.on('SIGTERM', () => void system.terminate().then(() => process.exit(0)));
process.stdout.write(JSON.stringify({ ready: true, node: system.node }) + '\n');
