/** Starting fixture actor-system processes, and an in-test system that talks to them. */
import { ActorSystem, type ActorSystemOptions } from '../../lib/index.js';
import { launch, type Proc } from './launcher.js';

export const testCluster = { clusterId: 'test-cluster', secret: 'test-secret-0123456789' };

export async function startActorNode(env: Record<string, string> = {}, name = 'actor-node'): Promise<Proc & { node: string }> {
  const proc = await launch('test/fixtures/actor-node.js', { env: { NODE_NAME: name, ...env }, name });
  return Object.assign(proc, { node: String(proc.ready['node']) });
}

/** The test process's own node: fast heartbeats so that failure tests finish quickly. */
export function startLocalSystem(options: Partial<ActorSystemOptions> = {}): Promise<ActorSystem> {
  return ActorSystem.start({ ...testCluster, heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000, name: 'test', ...options });
}
