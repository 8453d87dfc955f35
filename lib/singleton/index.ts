/** HA singletons: one instance per group, chosen through etcd, a proxy on every node. */
export { SingletonManager, type SingletonManagerOptions } from './manager.js';
export { SingletonRef } from './proxy.js';
export { HostState, type SingletonEnv, type SingletonOptions, type SingletonPersistence, type SingletonEvents } from './host.js';
export {
  SingletonErrorCode,
  SingletonUnavailableError,
  SingletonNotHostError,
  SingletonClosedError,
} from './errors.js';
