/**
 * A test peer: an actor of the system under test that keeps every message it is sent, with the
 * simulated (or real) time of delivery, so that a test sees what an actor told its peers and
 * answers in their place, in the real protocol. It stands in for a component that is not under
 * test; it never imitates the one that is.
 */
import { setup } from 'xstate';
import type { ActorRef, ActorSystem } from '../../lib/index.js';

export interface Received<M> {
  /** Simulated time of delivery. */
  at: number;
  message: M;
}

/** An actor that keeps every message it is sent. */
export class TestPeer<M extends { type: string }> {
  readonly log: Array<Received<M>> = [];
  readonly ref: ActorRef<M>;

  constructor(system: ActorSystem, name: string) {
    const record = (message: M) => this.log.push({ at: system.clock.now(), message });
    this.ref = system.spawn(
      name,
      setup({ types: { events: {} as { type: string } } }).createMachine({ on: { '*': { actions: ({ event }) => void record(event as M) } } }),
    ) as ActorRef<M>;
  }

  /** Messages of `type` received so far, oldest first. */
  all<K extends M['type']>(type: K): Array<Extract<M, { type: K }>> {
    return this.log.filter((r) => r.message.type === type).map((r) => r.message as Extract<M, { type: K }>);
  }

  /** Deliveries of `type`, with their times. */
  deliveries<K extends M['type']>(type: K): Array<Received<Extract<M, { type: K }>>> {
    return this.log.filter((r) => r.message.type === type) as Array<Received<Extract<M, { type: K }>>>;
  }

  last<K extends M['type']>(type: K): Extract<M, { type: K }> | undefined {
    return this.all(type).at(-1);
  }
}
