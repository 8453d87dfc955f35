/** What watchers receive. Include `WatchNotice` in the protocol of an actor that watches others. */
import type { WireError } from '../errors.js';
import type { TerminationReason } from '../transport/protocol.js';
import type { ActorRef } from './ref.js';

export type { TerminationReason };

export interface ActorTerminated {
  readonly type: 'actor.terminated';
  readonly ref: ActorRef<any>;
  readonly reason: TerminationReason;
  readonly error?: WireError;
}

export interface ActorRestarted {
  readonly type: 'actor.restarted';
  readonly ref: ActorRef<any>;
  readonly error: WireError;
}

export type WatchNotice = ActorTerminated | ActorRestarted;

/** A watcher is an actor (told the notice) or a function (called with it). */
export type Watcher = ActorRef<WatchNotice> | ((notice: WatchNotice) => void);
