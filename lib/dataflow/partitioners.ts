/**
 * Channel selection: which subtask of the next vertex a record goes to. Runs on the sending
 * subtask, once per record, so it is a closure with everything precomputed.
 */
import { Partitioner } from './description.js';
import { ErrorCode, RuntimeError } from '../errors.js';
import { operatorIndexForKey } from './keygroups.js';
import type { Key } from './keyhash.js';

/** Integer keys below this have their channel remembered by a hash selector (a 256 KB table). */
const SMALL_INT_KEYS = 1 << 16;

/** Returned for a record that goes to every channel (broadcast). */
export const ALL_CHANNELS = -1;

export interface ChannelSelectorOptions {
  readonly partitioner: Partitioner;
  /** Parallelism of the receiving vertex. */
  readonly numberOfChannels: number;
  /** Index of the sending subtask (forward sends to the same index; rebalance starts there). */
  readonly subtaskIndex: number;
  /** Hash only: the receiving operator's max parallelism, whose key groups decide. */
  readonly maxParallelism?: number;
  /** Hash only: the key selector of the keyBy. */
  readonly keySelector?: (record: unknown) => Key;
}

/** A function from a record to a channel index, or ALL_CHANNELS. */
export type ChannelSelector = (record: unknown) => number;

export function createChannelSelector(options: ChannelSelectorOptions): ChannelSelector {
  const n = options.numberOfChannels;
  switch (options.partitioner) {
    case Partitioner.Forward: {
      const channel = options.subtaskIndex;
      if (channel >= n) throw new RuntimeError(ErrorCode.InvalidArgument, `forward from subtask ${channel} to only ${n} channels`);
      return () => channel;
    }
    case Partitioner.Rebalance: {
      // Start at the sender's own index so that senders do not all begin with channel 0.
      let next = options.subtaskIndex % n;
      return () => {
        const channel = next;
        next = next + 1 === n ? 0 : next + 1;
        return channel;
      };
    }
    case Partitioner.Broadcast:
      return () => ALL_CHANNELS;
    case Partitioner.Hash: {
      const { keySelector, maxParallelism } = options;
      if (keySelector === undefined || maxParallelism === undefined) {
        throw new RuntimeError(ErrorCode.InvalidArgument, 'a hash channel selector needs a key selector and a max parallelism');
      }
      // Small non-negative integer keys (counters, ids modulo something) are common and few:
      // their channel is remembered in a table filled on first use, so a record costs a lookup.
      let channelOfSmallInt: Int32Array | null = null;
      return (record) => {
        const key = keySelector(record);
        if (typeof key === 'number' && key >>> 0 === key && key < SMALL_INT_KEYS) {
          const table = (channelOfSmallInt ??= new Int32Array(SMALL_INT_KEYS).fill(-1));
          const known = table[key] as number;
          if (known >= 0) return known;
          return (table[key] = operatorIndexForKey(key, maxParallelism, n));
        }
        return operatorIndexForKey(key, maxParallelism, n);
      };
    }
  }
}
