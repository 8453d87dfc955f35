/**
 * Timers of keyed operators (Flink's InternalTimerService): event-time timers fire when the
 * watermark reaches them, processing-time timers when the clock does. A timer is scoped to a
 * key and a namespace (a window, or '' for a process function) and is unique per (key,
 * namespace, time): registering it twice fires it once.
 *
 * Timers ARE keyed state: each lives in a map state of the operator's backend under its key,
 * so it is checkpointed, restored and rescaled with its key group like any keyed state. The
 * priority queues are only an index over that state, rebuilt from it on restore; a deleted
 * timer stays in the queue and is skipped when it comes up (it is no longer in the state).
 */
import type { Key } from './keyhash.js';
import type { HeapKeyedStateBackend, MapState } from './state.js';
import { MIN_WATERMARK } from './watermarks.js';

export const TimeDomain = { EventTime: 'event', ProcessingTime: 'processing' } as const;
export type TimeDomain = (typeof TimeDomain)[keyof typeof TimeDomain];

/** A timer that fired. */
export interface FiredTimer {
  readonly timestamp: number;
  readonly key: Key;
  readonly namespace: string;
  readonly domain: TimeDomain;
}

/** The processing-time clock of a task, and how it runs a callback later (on the task's loop). */
export interface ProcessingTimeService {
  now(): number;
  /** Runs `fn` at `at` (or soon after); returns a function that cancels it. */
  schedule(at: number, fn: () => void): () => void;
}

/** What user functions see (Flink's TimerService), for the current key. */
export interface TimerService {
  currentProcessingTime(): number;
  currentWatermark(): number;
  registerEventTimeTimer(timestamp: number): void;
  registerProcessingTimeTimer(timestamp: number): void;
  deleteEventTimeTimer(timestamp: number): void;
  deleteProcessingTimeTimer(timestamp: number): void;
}

interface QueuedTimer {
  readonly timestamp: number;
  readonly namespace: string;
  readonly key: Key;
  /** Tie-breaker for equal times: registration order (after a restore, the order of the state). */
  readonly seq: number;
  /** Set by the timer service, so that the queued timer is itself what fires (no copy per timer). */
  readonly domain?: TimeDomain;
}

/** A binary min-heap of numbers. */
class TimeHeap {
  private readonly heap: number[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): number | undefined {
    return this.heap[0];
  }

  push(time: number): void {
    const h = this.heap;
    let i = h.length;
    h.push(time);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as number;
      if (p <= time) break;
      h[i] = p;
      i = parent;
    }
    h[i] = time;
  }

  pop(): number | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop() as number;
    const n = h.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (h[r] as number) < (h[l] as number) ? r : l;
      if ((h[c] as number) >= last) break;
      h[i] = h[c] as number;
      i = c;
    }
    h[i] = last;
    return top;
  }

  clear(): void {
    this.heap.length = 0;
  }
}

/** The timers of one time, in registration order, and how many of them have been taken. */
interface TimeBucket {
  readonly timers: QueuedTimer[];
  at: number;
}

/**
 * Timers by time, then registration order. Timers share times (every key's timer of a window
 * is at the window's end), so they are kept in one bucket per time, with a heap of the times:
 * a timer is added and taken in constant time, and only a new time costs a heap operation.
 */
export class TimerQueue {
  private readonly times = new TimeHeap();
  private readonly buckets = new Map<number, TimeBucket>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  peek(): QueuedTimer | undefined {
    const time = this.times.peek();
    if (time === undefined) return undefined;
    const bucket = this.buckets.get(time) as TimeBucket;
    return bucket.timers[bucket.at];
  }

  push(timer: QueuedTimer): void {
    let bucket = this.buckets.get(timer.timestamp);
    if (bucket === undefined) {
      bucket = { timers: [], at: 0 };
      this.buckets.set(timer.timestamp, bucket);
      this.times.push(timer.timestamp);
    }
    const timers = bucket.timers;
    // Timers come in registration order; should one not, it goes where its sequence number says.
    let i = timers.length;
    while (i > bucket.at && (timers[i - 1] as QueuedTimer).seq > timer.seq) i--;
    if (i === timers.length) timers.push(timer);
    else timers.splice(i, 0, timer);
    this.count++;
  }

  pop(): QueuedTimer | undefined {
    const time = this.times.peek();
    if (time === undefined) return undefined;
    const bucket = this.buckets.get(time) as TimeBucket;
    const timer = bucket.timers[bucket.at++];
    this.count--;
    if (bucket.at >= bucket.timers.length) {
      this.buckets.delete(time);
      this.times.pop();
    }
    return timer;
  }

  clear(): void {
    this.times.clear();
    this.buckets.clear();
    this.count = 0;
  }
}

/**
 * The timers of one keyed operator in one subtask.
 *
 * @example
 * const timers = new InternalTimerService(backend, processingTime, (t) => fire(t));
 * backend.setCurrentKey('a'); timers.register(TimeDomain.EventTime, '', 1000);
 * timers.advanceWatermark(1000); // fire({ timestamp: 1000, key: 'a', namespace: '', domain: 'event' })
 */
export class InternalTimerService {
  /** Per key: time -> the namespaces with a timer then (usually one; a number key is cheap to look up). */
  private readonly states: Record<TimeDomain, MapState<number, string[]>>;
  private seq = 0;
  private readonly queues: Record<TimeDomain, TimerQueue> = { event: new TimerQueue(), processing: new TimerQueue() };
  private watermark = MIN_WATERMARK;
  private armedAt = Number.POSITIVE_INFINITY;
  private cancelArmed: (() => void) | null = null;
  private stopped = false;

  constructor(
    private readonly backend: HeapKeyedStateBackend,
    private readonly processingTime: ProcessingTimeService,
    private readonly onTimer: (timer: FiredTimer) => void,
  ) {
    this.states = { event: backend.getMapState('__timers.event'), processing: backend.getMapState('__timers.processing') };
  }

  get currentWatermark(): number {
    return this.watermark;
  }

  /** Rebuilds the queues from the (restored) state. */
  restore(): void {
    for (const domain of [TimeDomain.EventTime, TimeDomain.ProcessingTime]) {
      this.queues[domain].clear();
      for (const key of this.backend.keysOf(`__timers.${domain}`)) {
        this.backend.setCurrentKey(key);
        for (const [timestamp, namespaces] of this.states[domain].entries()) {
          for (const namespace of namespaces) this.queues[domain].push({ timestamp, namespace, key, seq: this.seq++, domain });
        }
      }
    }
    this.arm();
  }

  /** A timer for the backend's current key. */
  register(domain: TimeDomain, namespace: string, timestamp: number): void {
    const key = this.backend.currentKey as Key;
    const state = this.states[domain];
    const namespaces = state.get(timestamp);
    if (namespaces === undefined) state.put(timestamp, [namespace]);
    else if (namespaces.includes(namespace)) return;
    else state.put(timestamp, [...namespaces, namespace]); // a copy: a snapshot may share the old array
    this.queues[domain].push({ timestamp, namespace, key, seq: this.seq++, domain });
    if (domain === TimeDomain.ProcessingTime && timestamp < this.armedAt) this.arm();
  }

  delete(domain: TimeDomain, namespace: string, timestamp: number): void {
    this.take(domain, namespace, timestamp);
  }

  /** Removes the timer from the state; false if it was not there (deleted, or fired already). */
  private take(domain: TimeDomain, namespace: string, timestamp: number): boolean {
    const state = this.states[domain];
    const namespaces = state.get(timestamp);
    if (namespaces === undefined || !namespaces.includes(namespace)) return false;
    if (namespaces.length === 1) state.remove(timestamp);
    else state.put(timestamp, namespaces.filter((n) => n !== namespace));
    return true;
  }

  /** Fires every event-time timer at or before `watermark`, in time order. */
  advanceWatermark(watermark: number): void {
    if (watermark <= this.watermark) return;
    this.watermark = watermark;
    this.fireUntil(TimeDomain.EventTime, watermark);
  }

  /** No more timers fire (end of input, or the task ends). */
  stop(): void {
    this.stopped = true;
    this.cancelArmed?.();
    this.cancelArmed = null;
  }

  /** The user's view for the backend's current key. */
  serviceFor(namespace: string): TimerService {
    return {
      currentProcessingTime: () => this.processingTime.now(),
      currentWatermark: () => this.watermark,
      registerEventTimeTimer: (ts) => this.register(TimeDomain.EventTime, namespace, ts),
      registerProcessingTimeTimer: (ts) => this.register(TimeDomain.ProcessingTime, namespace, ts),
      deleteEventTimeTimer: (ts) => this.delete(TimeDomain.EventTime, namespace, ts),
      deleteProcessingTimeTimer: (ts) => this.delete(TimeDomain.ProcessingTime, namespace, ts),
    };
  }

  private fireUntil(domain: TimeDomain, time: number): void {
    const queue = this.queues[domain];
    for (let next = queue.peek(); next !== undefined && next.timestamp <= time && !this.stopped; next = queue.peek()) {
      queue.pop();
      this.backend.setCurrentKey(next.key);
      if (!this.take(domain, next.namespace, next.timestamp)) continue; // deleted, or a duplicate entry of one that fired
      this.onTimer(next.domain === domain ? (next as FiredTimer) : { timestamp: next.timestamp, key: next.key, namespace: next.namespace, domain });
    }
  }

  /** Keeps one clock callback armed, for the earliest processing-time timer. */
  private arm(): void {
    if (this.stopped) return;
    const next = this.queues.processing.peek();
    this.cancelArmed?.();
    this.cancelArmed = null;
    this.armedAt = Number.POSITIVE_INFINITY;
    if (next === undefined) return;
    this.armedAt = next.timestamp;
    this.cancelArmed = this.processingTime.schedule(next.timestamp, () => {
      this.cancelArmed = null;
      this.armedAt = Number.POSITIVE_INFINITY;
      this.fireUntil(TimeDomain.ProcessingTime, this.processingTime.now());
      this.arm();
    });
  }
}
