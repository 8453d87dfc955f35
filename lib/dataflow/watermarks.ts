/**
 * Event time (Flink's WatermarkStrategy, WatermarkGenerator and StatusWatermarkValve), as pure
 * logic. A watermark `w` says that no more records with a timestamp `<= w` are expected; a
 * window `[start, end)` fires once the watermark reaches `end - 1`.
 *
 * Where watermarks come from: `assignTimestampsAndWatermarks(strategy)` gives each record a
 * timestamp and runs the strategy's generator, which emits watermarks on events (punctuated)
 * and/or when the task asks it periodically (every `autoWatermarkInterval` ms). An input that
 * sees no records for the strategy's idle timeout is marked idle, so that it holds back no
 * watermark downstream.
 *
 * How they combine: an operator's watermark is the minimum over its active input channels
 * (WatermarkValve); when every channel is idle, the operator's output is idle too.
 */
import { InvalidJobGraphError } from './errors.js';
import type { Clock } from '../util/clock.js';

/** A record without a timestamp (never given one by an assigner or a window). */
export const NO_TIMESTAMP = Number.NEGATIVE_INFINITY;
/** The watermark before any: holds everything back. */
export const MIN_WATERMARK = Number.NEGATIVE_INFINITY;
/** The watermark at the end of input: fires every event-time timer and window. */
export const MAX_WATERMARK = Number.POSITIVE_INFINITY;

/** Where a generator emits. */
export interface WatermarkOutput {
  /** A watermark; ignored unless higher than the last one emitted. Marks the output active. */
  emitWatermark(watermark: number): void;
  /** No records for a while: hold back no watermark downstream until the next one. */
  markIdle(): void;
  markActive(): void;
}

/** Flink's WatermarkGenerator. */
export interface WatermarkGenerator<T> {
  /** Each record with its (assigned) timestamp; a punctuated generator emits here. */
  onEvent(event: T, timestamp: number, output: WatermarkOutput): void;
  /** Every `autoWatermarkInterval` ms; a periodic generator emits here. */
  onPeriodicEmit(output: WatermarkOutput): void;
}

/** The event time of a record; `recordTimestamp` is the one it already has, or NO_TIMESTAMP. */
export type TimestampAssigner<T> = (event: T, recordTimestamp: number) => number;

/** What a generator may use besides the records: processing time. */
export interface WatermarkGeneratorContext {
  readonly clock: Clock;
}

export type WatermarkGeneratorFactory<T> = (ctx: WatermarkGeneratorContext) => WatermarkGenerator<T>;

/** Watermarks `maxOutOfOrdernessMs` behind the highest timestamp seen (Flink's BoundedOutOfOrdernessWatermarks). */
export class BoundedOutOfOrdernessWatermarks<T> implements WatermarkGenerator<T> {
  private maxTimestamp = Number.NEGATIVE_INFINITY;
  constructor(private readonly maxOutOfOrdernessMs: number) {}
  onEvent(_event: T, timestamp: number): void {
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
  }
  onPeriodicEmit(output: WatermarkOutput): void {
    if (this.maxTimestamp !== Number.NEGATIVE_INFINITY) output.emitWatermark(this.maxTimestamp - this.maxOutOfOrdernessMs - 1);
  }
}

/**
 * Wraps a generator: when no record arrived for `idleTimeoutMs` of processing time, the output
 * is marked idle; the next record makes it active again (Flink's WatermarksWithIdleness).
 */
export class WatermarksWithIdleness<T> implements WatermarkGenerator<T> {
  private lastEventAt: number;
  private idle = false;
  constructor(
    private readonly inner: WatermarkGenerator<T>,
    private readonly idleTimeoutMs: number,
    private readonly clock: Clock,
  ) {
    this.lastEventAt = clock.now();
  }
  onEvent(event: T, timestamp: number, output: WatermarkOutput): void {
    this.lastEventAt = this.clock.now();
    if (this.idle) {
      this.idle = false;
      output.markActive();
    }
    this.inner.onEvent(event, timestamp, output);
  }
  onPeriodicEmit(output: WatermarkOutput): void {
    if (this.idle) return;
    if (this.clock.now() - this.lastEventAt >= this.idleTimeoutMs) {
      this.idle = true;
      output.markIdle();
      return;
    }
    this.inner.onPeriodicEmit(output);
  }
}

function checkMs(what: string, ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) throw new InvalidJobGraphError(undefined, `${what} must be a finite number of milliseconds >= 0, got ${ms}`);
}

/**
 * How a stream gets timestamps and watermarks (Flink's WatermarkStrategy). Immutable: the
 * `with...` methods return a new strategy.
 *
 * @example
 * WatermarkStrategy.forBoundedOutOfOrderness<Bid>(5_000)
 *   .withTimestampAssigner((bid) => bid.dateTime)
 *   .withIdleness(60_000);
 */
export class WatermarkStrategy<T> {
  // Stored with T erased, so that strategies stay assignable like the streams that take them.
  private readonly createGenerator: WatermarkGeneratorFactory<unknown>;
  /** @internal */
  readonly timestampAssigner: TimestampAssigner<unknown> | undefined;

  private constructor(
    createGenerator: WatermarkGeneratorFactory<T>,
    timestampAssigner: TimestampAssigner<T> | undefined,
    readonly idleTimeoutMs: number | undefined,
  ) {
    this.createGenerator = createGenerator as WatermarkGeneratorFactory<unknown>;
    this.timestampAssigner = timestampAssigner as TimestampAssigner<unknown> | undefined;
  }

  /** Watermarks `maxOutOfOrdernessMs` behind the highest timestamp seen, emitted periodically. */
  static forBoundedOutOfOrderness<T>(maxOutOfOrdernessMs: number): WatermarkStrategy<T> {
    checkMs('max out-of-orderness', maxOutOfOrdernessMs);
    return new WatermarkStrategy<T>(() => new BoundedOutOfOrdernessWatermarks<T>(maxOutOfOrdernessMs), undefined, undefined);
  }

  /** Timestamps that never decrease: the watermark follows the highest one (`ts - 1`). */
  static forMonotonousTimestamps<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(() => new BoundedOutOfOrdernessWatermarks<T>(0), undefined, undefined);
  }

  /** A generator of your own (punctuated, periodic or both). */
  static forGenerator<T>(factory: WatermarkGeneratorFactory<T>): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(factory, undefined, undefined);
  }

  /** Timestamps without watermarks (for processing-time jobs that still want record times). */
  static noWatermarks<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(() => ({ onEvent: () => undefined, onPeriodicEmit: () => undefined }), undefined, undefined);
  }

  /** Where each record's timestamp comes from (default: the timestamp it already has). */
  withTimestampAssigner(assigner: TimestampAssigner<T>): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(this.createGenerator, assigner, this.idleTimeoutMs);
  }

  /** Marks the input idle after `idleTimeoutMs` without records, so it holds back no watermark. */
  withIdleness(idleTimeoutMs: number): WatermarkStrategy<T> {
    checkMs('idle timeout', idleTimeoutMs);
    return new WatermarkStrategy<T>(this.createGenerator, this.timestampAssigner, idleTimeoutMs);
  }

  /** @internal The generator for one subtask, with idleness applied. */
  generator(clock: Clock): WatermarkGenerator<unknown> {
    const inner = this.createGenerator({ clock });
    return this.idleTimeoutMs === undefined ? inner : new WatermarksWithIdleness(inner, this.idleTimeoutMs, clock);
  }
}

/** Receives what a valve (or an operator) puts out. */
export interface WatermarkSink {
  watermark(watermark: number): void;
  status(idle: boolean): void;
}

interface ChannelStatus {
  watermark: number;
  idle: boolean;
  /** Counts towards the minimum: active, and caught up with the output watermark since it was last idle. */
  aligned: boolean;
}

/**
 * The watermark of an operator over its input channels (Flink's StatusWatermarkValve): the
 * minimum over the active channels, put out only when it advances. A channel that turns idle
 * stops counting; when all are idle the output is idle. A channel that becomes active again
 * counts once its watermark has caught up with the output's, so the output never goes back.
 *
 * @example
 * const valve = new WatermarkValve(2, sink);
 * valve.inputWatermark(0, 10); // nothing: channel 1 holds it back
 * valve.inputWatermark(1, 7);  // sink.watermark(7)
 * valve.inputStatus(1, true);  // sink.watermark(10): channel 1 is idle
 */
export class WatermarkValve {
  private readonly channels: ChannelStatus[];
  private lastOutput = MIN_WATERMARK;
  private outputIdle = false;

  constructor(
    numberOfChannels: number,
    private readonly out: WatermarkSink,
  ) {
    this.channels = Array.from({ length: numberOfChannels }, () => ({ watermark: MIN_WATERMARK, idle: false, aligned: true }));
  }

  /** The watermark put out last. */
  get watermark(): number {
    return this.lastOutput;
  }

  inputWatermark(channel: number, watermark: number): void {
    const c = this.channels[channel] as ChannelStatus;
    if (c.idle) {
      // A watermark from an idle channel means it is active again (a generator marks it, this is for safety).
      this.inputStatus(channel, false);
    }
    if (watermark <= c.watermark) return;
    c.watermark = watermark;
    if (!c.aligned && watermark >= this.lastOutput) c.aligned = true;
    this.advance();
  }

  inputStatus(channel: number, idle: boolean): void {
    const c = this.channels[channel] as ChannelStatus;
    if (idle === c.idle) return;
    if (idle) {
      c.idle = true;
      c.aligned = false;
      if (this.channels.every((ch) => ch.idle)) {
        // Everything idle: let the highest watermark through first (Flink does the same), then go idle.
        const max = Math.max(...this.channels.map((ch) => ch.watermark));
        if (max > this.lastOutput) {
          this.lastOutput = max;
          this.out.watermark(max);
        }
        this.outputIdle = true;
        this.out.status(true);
      } else {
        this.advance();
      }
      return;
    }
    c.idle = false;
    c.aligned = c.watermark >= this.lastOutput;
    if (this.outputIdle) {
      this.outputIdle = false;
      this.out.status(false);
    }
  }

  /** The channel ended: it holds nothing back any more. */
  endOfInput(channel: number): void {
    const c = this.channels[channel] as ChannelStatus;
    c.idle = false;
    c.aligned = true;
    c.watermark = MAX_WATERMARK;
    if (this.outputIdle) {
      this.outputIdle = false;
      this.out.status(false);
    }
    this.advance();
  }

  private advance(): void {
    let min = MAX_WATERMARK;
    let any = false;
    for (const c of this.channels) {
      if (c.idle || !c.aligned) continue;
      any = true;
      if (c.watermark < min) min = c.watermark;
    }
    if (any && min > this.lastOutput) {
      this.lastOutput = min;
      this.out.watermark(min);
    }
  }
}
