/**
 * One subtask at run time, inside its worker thread (Flink's StreamTask): the chain of
 * operators between the task's input gates and result partitions, driven by a loop that never
 * blocks the worker's event loop, so that credits and buffers keep arriving while it works.
 *
 * The loop runs in slices of at most `sliceMs`: a source chain polls its source in batches, any
 * other chain processes whole input buffers. A source's batch adapts to how long its records
 * take: a source function that blocks (a paced source sleeping between records) gets batches
 * short enough to keep a slice near `sliceMs`, so that triggers, credits and the completion of
 * asynchronous writes are seen within milliseconds, not after hundreds of blocking records.
 * Before each batch or buffer it checks that every result partition is available (has credit,
 * or little backlog); if not, it stops and resumes when a credit arrives. That is the whole of
 * backpressure: a task without credit takes no input, so its own input channels return no
 * credit upstream, and so on back to the source.
 *
 * The task finishes when the source is exhausted or every input channel has delivered
 * end-of-partition: it closes the chain (sinks flush), flushes its partitions, and reports
 * `finished` once end-of-partition has left on every output channel.
 *
 * Checkpoints (asynchronous barrier snapshots): a source snapshots when the TaskRunner triggers
 * it; any other task when the BarrierAligner has seen the barrier on all its input channels
 * (blocking each channel that delivered it meanwhile). TaskCheckpointer takes the snapshot,
 * forwards the barrier and writes the file. With checkpointing on, an exhausted source does not
 * end: it reports `cp.exhausted` and ends once a checkpoint triggered after that completed
 * (the final checkpoint, so that transactional sinks commit everything).
 *
 * Event time: watermarks and idle/active marks arrive inside the buffers, per channel, and go
 * through a WatermarkValve (minimum over active channels; an ended channel counts as +infinity)
 * into the chain; what the chain puts out goes to every output, side outputs included. Timestamp
 * assigners are asked for periodic watermarks every `autoWatermarkInterval`, and processing-time
 * timers run as callbacks between slices, their errors failing the task like any user error.
 */
import { performance } from 'node:perf_hooks';
import type { JobVertex } from '../dataflow/jobgraph.js';
import { ChainRunner } from '../dataflow/operators.js';
import type { ProcessingTimeService } from '../dataflow/timers.js';
import { WatermarkValve } from '../dataflow/watermarks.js';
import type { StreamGraph } from '../dataflow/streamgraph.js';
import { RuntimeError, toWireError } from '../errors.js';
import { RecordDeserializer, StreamEvent, type NetworkBuffer, type StreamEventHandler } from '../network/buffer.js';
import { DataConnectionLostError, UnknownChannelError } from '../network/errors.js';
import type { InputGate } from '../network/input-gate.js';
import { DataMessageType, type BarrierInfo } from '../network/messages.js';
import type { ResultPartition } from '../network/result-partition.js';
import { BarrierAligner, type AlignmentOutcome } from './barrier-aligner.js';
import type { CheckpointOptions, TaskDeploymentDescriptor, TaskMetrics } from './descriptor.js';
import { CheckpointSubsumedError } from './errors.js';
import { wireNetwork, type TaskNetwork } from './network-wiring.js';
import type { TaskSettings } from './settings.js';
import { SinkWriters } from './sink-writers.js';
import type { RestoredTaskState } from './snapshot-store.js';
import { TaskCheckpointer } from './task-checkpointer.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';
import { every, realClock, type Clock, type StopTimer, type TimerHandle } from '../util/clock.js';

/** A user function's stack travels with its failure, cut to this length. */
const MAX_STACK_CHARS = 2000;

/** How the task talks to its TaskRunner: the worker's parentPort, or a test double. */
export interface TaskPort {
  post(msg: FromWorker, transfer?: ArrayBuffer[]): void;
}

/**
 * @example
 * const task = new StreamTask(tdd, graph, vertex, { post: (m, t) => parentPort.postMessage(m, t) }, settings);
 * parentPort.on('message', (m) => task.onMessage(m));
 * task.start(); // reports 'running', then 'finished' or 'failed'
 */
export class StreamTask {
  private readonly net: TaskNetwork;
  private readonly chain: ChainRunner;
  private readonly sinks: SinkWriters;
  private readonly deserializer = new RecordDeserializer();
  private readonly partitions: ResultPartition[];
  private readonly gates: InputGate[];
  private recordsIn = 0;
  private recordsOut = 0;
  private backPressuredMs = 0;
  private backPressuredSince: number | null = null;
  private scheduled = false;
  private finishing = false;
  private done = false;
  private nextGate = 0;
  private readonly checkpointer: TaskCheckpointer;
  /** Null for sources (no inputs). */
  private readonly aligner: BarrierAligner | null;
  /** Index of each gate's first channel in the aligner's numbering. */
  private readonly gateOffsets: number[] = [];
  private readonly checkpointing: boolean;
  /** Source only: read all its input, waits for the final checkpoint. */
  private exhausted = false;
  /** First checkpoint triggered after exhaustion: its completion (or a later one's) ends the source. */
  private finalCheckpointId: number | null = null;
  /** Records per source poll: `sourceBatchRecords` at most, fewer while records are slow. */
  private sourceBatch: number;
  private stopFlushTimer: StopTimer | null = null;
  private stopMetricsTimer: StopTimer | null = null;
  private stopWatermarkTimer: StopTimer | null = null;
  /** Event time over all input channels (numbered like the aligner's); null for sources. */
  private readonly valve: WatermarkValve | null;
  /** The channel whose buffer is being deserialized (its watermarks go to the valve under this number). */
  private currentChannel = 0;
  /** Per gate: records go to the head's first or second input. */
  private readonly gatePush: ((record: unknown, timestamp: number) => void)[];
  private readonly processingTimers = new Set<TimerHandle>();
  /** Called once the task has reported its terminal state. */
  onDone: () => void = () => undefined;

  constructor(
    private readonly tdd: TaskDeploymentDescriptor,
    graph: StreamGraph,
    vertex: JobVertex,
    private readonly port: TaskPort,
    private readonly settings: TaskSettings,
    restored?: RestoredTaskState,
    /** Processing time and the task's timers (buffer flushes, watermarks, metrics). */
    private readonly clock: Clock = realClock,
  ) {
    this.checkpointing = tdd.checkpointDir !== null;
    this.sourceBatch = settings.sourceBatchRecords;
    this.sinks = new SinkWriters((msg) => port.post(msg), settings.collectBatchRecords, {
      enabled: this.checkpointing,
      filePrefix: tdd.jobId,
      ...(restored === undefined ? {} : { restored: { checkpointId: restored.checkpointId, states: restored.sinks } }),
    });
    this.net = wireNetwork(tdd, vertex, graph, this.sender, settings);
    this.partitions = this.net.partitions;
    this.gates = this.net.gates;
    const partitions = this.partitions.filter((_, k) => this.net.partitionTags[k] === undefined);
    const sidePartitions = new Map<string, ResultPartition[]>();
    this.net.partitionTags.forEach((tag, k) => {
      if (tag !== undefined) sidePartitions.set(tag, [...(sidePartitions.get(tag) ?? []), this.partitions[k] as ResultPartition]);
    });
    const only = partitions.length === 1 ? partitions[0] : undefined;
    const all = this.partitions;
    // The chain's output: counted, then routed; a closure per shape so the hot path has no loop when it need not.
    const emit =
      only !== undefined
        ? (record: unknown, timestamp: number) => {
            this.recordsOut++;
            only.emit(record, timestamp);
          }
        : (record: unknown, timestamp: number) => {
            this.recordsOut++;
            for (const p of partitions) p.emit(record, timestamp);
          };
    const output = {
      emit,
      // Watermarks and idleness go to every output, side outputs too: their consumers need event time as well.
      emitWatermark: (wm: number) => {
        for (const p of all) p.emitEvent(StreamEvent.Watermark, wm);
      },
      emitStatus: (idle: boolean) => {
        for (const p of all) p.emitEvent(idle ? StreamEvent.Idle : StreamEvent.Active, 0);
      },
      emitSide: (tag: string, record: unknown, timestamp: number) => {
        const targets = sidePartitions.get(tag);
        if (targets === undefined) return; // a side output nobody reads
        this.recordsOut++;
        for (const p of targets) p.emit(record, timestamp);
      },
    };
    this.chain = ChainRunner.create(graph, vertex.operatorIds, {
      subtaskIndex: tdd.subtaskIndex,
      output,
      sinkWriter: this.sinks.create,
      processingTime: this.processingTime,
      ...(restored === undefined ? {} : { restoredState: restored.keyedState }),
      ...(restored?.sourcePositions === undefined ? {} : { sourcePositions: restored.sourcePositions }),
      ...(restored?.operatorState === undefined ? {} : { restoredOperatorState: restored.operatorState }),
    });
    this.gatePush = this.net.gateInputs.map((input) => (input === 2 ? this.pushRecord2 : this.pushRecord));
    this.checkpointer = new TaskCheckpointer(tdd, { chain: this.chain, sinks: this.sinks, partitions: this.partitions, post: (msg) => port.post(msg) });
    // A savepoint's files are the user's, not retained by the job: the first checkpoint after one is full.
    if (restored !== undefined && tdd.restore?.savepoint !== true) this.checkpointer.history.restored(restored.checkpointId, restored.locations);
    this.checkpointer.onIdle = () => {
      if (this.finishing) this.checkFinished();
    };
    let channels = 0;
    for (const gate of this.gates) {
      this.gateOffsets.push(channels);
      channels += gate.numberOfChannels;
    }
    this.aligner = channels > 0 ? new BarrierAligner(channels) : null;
    this.valve =
      channels > 0
        ? new WatermarkValve(channels, {
            watermark: (wm) => this.chain.processWatermark(wm),
            status: (idle) => this.chain.processStatus(idle),
          })
        : null;
    this.autoWatermarkIntervalMs = graph.settings.autoWatermarkIntervalMs;
  }

  private readonly autoWatermarkIntervalMs: number;

  /** Processing time for timers and windows: callbacks run between slices, and their errors fail the task. */
  private readonly processingTime: ProcessingTimeService = {
    now: () => this.clock.now(),
    schedule: (at, fn) => {
      const handle = this.clock.setTimeout(() => {
        this.processingTimers.delete(handle);
        if (this.done || this.finishing) return;
        try {
          fn();
        } catch (err) {
          this.fail(err);
        }
        this.schedule();
      }, Math.max(0, at - this.clock.now()));
      this.processingTimers.add(handle);
      return () => {
        this.clock.clearTimeout(handle);
        this.processingTimers.delete(handle);
      };
    },
  };

  /** Watermarks and idleness in a buffer of `currentChannel`. */
  private readonly onStreamEvent: StreamEventHandler = (event, watermark) => {
    const valve = this.valve;
    if (valve === null) return;
    if (event === StreamEvent.Watermark) valve.inputWatermark(this.currentChannel, watermark);
    else valve.inputStatus(this.currentChannel, event === StreamEvent.Idle);
  };

  /** Announces credits, reports `running` and starts the loop. */
  start(): void {
    for (const gate of this.gates) gate.start();
    this.port.post({ t: 'state', state: 'running' });
    try {
      this.chain.open();
    } catch (err) {
      return this.fail(err);
    }
    this.stopFlushTimer = every(this.clock, this.settings.bufferTimeoutMs, () => this.onBufferTimeout());
    if (this.chain.hasPeriodicWatermarks && this.autoWatermarkIntervalMs > 0) {
      this.stopWatermarkTimer = every(this.clock, this.autoWatermarkIntervalMs, () => this.onPeriodicWatermark());
    }
    this.stopMetricsTimer = every(this.clock, this.settings.metricsIntervalMs, () => this.port.post({ t: 'metrics', metrics: this.metrics() }));
    this.schedule();
  }

  onMessage(msg: ToWorker): void {
    if (this.done) return;
    try {
      switch (msg.t) {
        case DataMessageType.Buffer:
          this.gateFor(msg.ch).onBuffer(msg.ch, msg.data, msg.length, msg.backlog);
          break;
        case DataMessageType.EndOfPartition:
          this.gateFor(msg.ch).onEndOfPartition(msg.ch);
          break;
        case DataMessageType.Barrier:
          this.gateFor(msg.ch).onBarrier(msg.ch, msg.barrier);
          break;
        case DataMessageType.Credit: {
          const sub = this.subpartitionFor(msg.ch);
          sub.addCredit(msg.n);
          if (this.finishing) return this.checkFinished();
          break;
        }
        case 'peerLost':
          return this.onPeerLost(msg.taskExecutorId, msg.reason);
        case 'cp.trigger':
          this.onTrigger(msg.checkpointId, msg.options);
          break;
        case 'cp.complete':
          this.checkpointer.completed(msg.checkpointId);
          this.onCheckpointComplete(msg.checkpointId);
          break;
        case 'cp.aborted':
          this.sinks.abort(msg.checkpointId);
          this.checkpointer.aborted(msg.checkpointId);
          if (this.aligner !== null) this.applyAlignment(this.aligner.abort(msg.checkpointId));
          break;
        case 'cp.abortPending': {
          // Sinks keep their pre-committed files: they commit with the next completed checkpoint.
          const aligning = this.aligner?.aligning ?? null;
          if (aligning !== null) this.applyAlignment(this.aligner!.abort(aligning));
          this.checkpointer.abortAll();
          break;
        }
      }
      this.schedule();
    } catch (err) {
      this.fail(err);
    }
  }

  metrics(): TaskMetrics {
    const ongoing = this.backPressuredSince === null ? 0 : performance.now() - this.backPressuredSince;
    return { recordsIn: this.recordsIn, recordsOut: this.recordsOut, backPressuredMs: Math.round(this.backPressuredMs + ongoing) };
  }

  /** Fails the task (a user function threw, a channel broke...). Idempotent. */
  fail(err: unknown): void {
    if (this.done) return;
    const error = toWireError(err);
    // The stack of what a user function threw (the cause of a UserFunctionError), for the job's
    // exception history; our own errors say enough by their code.
    const thrown = err instanceof RuntimeError ? err.cause : err;
    if (thrown instanceof Error && !(thrown instanceof RuntimeError) && thrown.stack) error.details = { ...error.details, stack: thrown.stack.slice(0, MAX_STACK_CHARS) };
    this.end({ t: 'state', state: 'failed', error, metrics: this.metrics() });
  }

  private readonly sender = {
    sendBuffer: (ch: string, buffer: NetworkBuffer, backlog: number): void => {
      this.port.post({ t: DataMessageType.Buffer, ch, data: buffer.data, length: buffer.length, backlog }, [buffer.data]);
    },
    sendEndOfPartition: (ch: string): void => {
      this.port.post({ t: DataMessageType.EndOfPartition, ch });
    },
    sendBarrier: (ch: string, barrier: BarrierInfo): void => {
      this.port.post({ t: DataMessageType.Barrier, ch, barrier });
    },
    sendCredit: (ch: string, n: number): void => {
      this.port.post({ t: DataMessageType.Credit, ch, n });
    },
  };

  private schedule(): void {
    if (this.scheduled || this.done || this.finishing || this.exhausted) return;
    this.scheduled = true;
    setImmediate(this.runSlice);
  }

  private readonly runSlice = (): void => {
    this.scheduled = false;
    if (this.done || this.finishing || this.exhausted) return;
    try {
      if (this.chain.isSource) this.runSourceSlice();
      else this.runInputSlice();
    } catch (err) {
      this.fail(err);
    }
  };

  /** True when every partition can take records; else notes the start of backpressure. */
  private outputsAvailable(): boolean {
    for (const p of this.partitions) {
      if (!p.isAvailable()) {
        if (this.backPressuredSince === null) this.backPressuredSince = performance.now();
        return false;
      }
    }
    if (this.backPressuredSince !== null) {
      this.backPressuredMs += performance.now() - this.backPressuredSince;
      this.backPressuredSince = null;
    }
    return true;
  }

  private runSourceSlice(): void {
    const sliceMs = this.settings.sliceMs;
    const deadline = performance.now() + sliceMs;
    for (;;) {
      if (!this.outputsAvailable()) return; // a credit resumes us
      const started = performance.now();
      if (!this.chain.pollSource(this.sourceBatch)) return this.sourceExhausted();
      const now = performance.now();
      this.adaptSourceBatch(now - started, sliceMs);
      if (now >= deadline) break;
    }
    this.schedule();
  }

  /** Cuts the batch to a slice's worth in one step when one took longer; doubles it back when quick. */
  private adaptSourceBatch(tookMs: number, sliceMs: number): void {
    if (tookMs > sliceMs) this.sourceBatch = Math.max(1, Math.floor((this.sourceBatch * sliceMs) / tookMs));
    else if (tookMs < sliceMs / 4) this.sourceBatch = Math.min(this.settings.sourceBatchRecords, this.sourceBatch << 1);
  }

  private runInputSlice(): void {
    const deadline = performance.now() + this.settings.sliceMs;
    const push = this.pushRecord;
    try {
      for (;;) {
        if (!this.outputsAvailable()) return;
        const g = this.pollableGate();
        if (g < 0) {
          if (this.gates.every((gate) => gate.isFinished())) return this.endOfInput();
          return; // a buffer resumes us
        }
        const gate = this.gates[g] as InputGate;
        const entry = gate.poll();
        if (entry === undefined) continue;
        if (entry.data !== null) {
          this.currentChannel = (this.gateOffsets[g] as number) + entry.channelIndex;
          this.recordsIn += this.deserializer.forEach(entry.data, entry.length, this.gatePush[g] ?? push, this.onStreamEvent);
          gate.recycle(entry.channelIndex);
        } else if (this.aligner !== null) {
          const channel = (this.gateOffsets[g] as number) + entry.channelIndex;
          const outcomes = entry.barrier !== undefined ? this.aligner.onBarrier(channel, entry.barrier) : this.aligner.onEndOfPartition(channel);
          // An ended channel holds back no event time (its producer put out the end-of-input watermark before).
          if (entry.barrier === undefined) this.valve?.endOfInput(channel);
          this.applyAlignment(outcomes);
          if (this.aligner.isBlocked(channel)) gate.block(entry.channelIndex);
        }
        if (performance.now() >= deadline) break;
      }
    } finally {
      for (const gate of this.gates) gate.flushCredits();
    }
    this.schedule();
  }

  private readonly pushRecord = (record: unknown, timestamp: number): void => this.chain.push(record, timestamp);
  private readonly pushRecord2 = (record: unknown, timestamp: number): void => this.chain.push2(record, timestamp);

  private onPeriodicWatermark(): void {
    if (this.done || this.finishing) return;
    try {
      this.chain.emitPeriodicWatermarks();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Round-robin over gates with something queued, so that no input starves another; -1 if none. */
  private pollableGate(): number {
    const n = this.gates.length;
    for (let i = 0; i < n; i++) {
      const g = (this.nextGate + i) % n;
      if ((this.gates[g] as InputGate).queued > 0) {
        this.nextGate = (g + 1) % n;
        return g;
      }
    }
    return -1;
  }

  /** Aligned: snapshot, forward, resume. Aborted: decline if superseded, resume. */
  private applyAlignment(outcomes: AlignmentOutcome[]): void {
    if (outcomes.length === 0) return;
    for (const o of outcomes) {
      if (o.type === 'aligned') this.checkpointer.checkpoint(o.barrier);
      else if (o.reason === 'superseded') this.checkpointer.declineWith(o.checkpointId, new CheckpointSubsumedError(this.tdd.executionId, o.checkpointId, o.newerId ?? -1));
    }
    for (const gate of this.gates) gate.unblockAll();
  }

  /** A source's part of a checkpoint: the JobMaster triggers every source subtask. */
  private onTrigger(checkpointId: number, options: CheckpointOptions): void {
    if (this.finishing) return; // ended: the coordinator no longer waits for this subtask
    if (!this.chain.isSource) {
      this.checkpointer.decline(checkpointId, 'only source subtasks are triggered; other tasks checkpoint on barriers');
      return;
    }
    if (this.exhausted) this.finalCheckpointId ??= checkpointId;
    this.checkpointer.checkpoint({ checkpointId, savepoint: options.savepoint, dir: options.dir });
  }

  private onCheckpointComplete(checkpointId: number): void {
    this.sinks.commit(checkpointId);
    if (this.exhausted && this.finalCheckpointId !== null && checkpointId >= this.finalCheckpointId) {
      this.exhausted = false;
      this.endOfInput();
    }
  }

  /** Without checkpointing the source ends now; with it, after its final checkpoint. */
  private sourceExhausted(): void {
    if (!this.checkpointing) return this.endOfInput();
    this.exhausted = true;
    for (const p of this.partitions) p.flush();
    this.port.post({ t: 'cp.exhausted' });
  }

  private endOfInput(): void {
    this.finishing = true;
    this.chain.finish();
    this.sinks.flush();
    for (const p of this.partitions) p.finish();
    this.checkFinished();
  }

  private checkFinished(): void {
    if (this.done || this.checkpointer.inFlight > 0) return;
    for (const p of this.partitions) if (!p.isFinished()) return;
    this.end({ t: 'state', state: 'finished', metrics: this.metrics() });
  }

  private end(final: FromWorker): void {
    this.done = true;
    this.stopFlushTimer?.();
    this.stopMetricsTimer?.();
    this.stopWatermarkTimer?.();
    this.stopFlushTimer = this.stopMetricsTimer = this.stopWatermarkTimer = null;
    for (const t of this.processingTimers) this.clock.clearTimeout(t);
    this.processingTimers.clear();
    if (final.t === 'state' && final.state === 'finished') this.sinks.flush();
    this.port.post(final);
    this.onDone();
  }

  private onBufferTimeout(): void {
    if (this.done) return;
    try {
      for (const p of this.partitions) p.flush();
      this.sinks.flush();
    } catch (err) {
      this.fail(err);
    }
  }

  private onPeerLost(taskExecutorId: string, reason: string): void {
    for (const [ch, peer] of this.net.peerOf) {
      if (peer !== taskExecutorId) continue;
      const gate = this.net.gateOf.get(ch);
      const open = gate !== undefined ? !gate.isChannelEnded(ch) : this.subpartitionFor(ch).isEnded === false;
      if (open) return this.fail(new DataConnectionLostError(taskExecutorId, reason));
    }
  }

  private gateFor(ch: string): InputGate {
    const gate = this.net.gateOf.get(ch);
    if (gate === undefined) throw new UnknownChannelError(ch);
    return gate;
  }

  private subpartitionFor(ch: string) {
    for (const p of this.partitions) {
      const sub = p.subpartition(ch);
      if (sub !== undefined) return sub;
    }
    throw new UnknownChannelError(ch);
  }
}
