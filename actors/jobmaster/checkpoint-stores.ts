/**
 * The JobMaster's checkpoint metadata stores, one at a time, as one child actor that lives as
 * long as the JobMaster: restarts of the job do not end it, so `settlingCheckpointStores` can
 * wait for the outcome of a store that an aborted attempt left in flight. One at a time, because
 * whether an incremental checkpoint's shared files are held is checked against the store as the
 * previous store left it (see shared-files.ts).
 *
 * Once the JobMaster stops (its leadership or its job is over) a store not yet started never
 * starts, and the outcome of one in flight is not reported: nobody is there to take it. A write
 * in flight cannot be taken back; what it does after landing (releasing subsumed files) is part
 * of the store itself.
 */
import { fromCallback, type ActorRef, type Snapshot } from 'xstate';
import type { Logger } from '../../lib/logging.js';

export interface CheckpointStoreRequest {
  type: 'checkpoint.store';
  /** The store: started once every earlier one has settled. */
  run: () => Promise<void>;
  /** Its outcome, while the JobMaster lives. */
  stored: () => void;
  failed: (error: unknown) => void;
}

export type CheckpointStores = ActorRef<Snapshot<unknown>, CheckpointStoreRequest>;

export const checkpointStores = fromCallback<CheckpointStoreRequest, { log: Logger }>(({ input: { log }, receive }) => {
  let stopped = false;
  let tail: Promise<void> = Promise.resolve();
  receive((request) => {
    tail = tail
      .then(async () => {
        if (stopped) return;
        try {
          await request.run();
        } catch (error) {
          if (!stopped) request.failed(error);
          return;
        }
        if (!stopped) request.stored();
      })
      // A report that throws is a bug; it must not hold up the stores queued behind it.
      .catch((err: unknown) => log.error({ err }, 'reporting a checkpoint store failed'));
  });
  return () => {
    stopped = true;
  };
});
