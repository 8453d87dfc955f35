/**
 * From a deployment descriptor to the task's network endpoints: one ResultPartition per output
 * edge (channel selector from the job edge's partitioner and key selector), one InputGate per
 * input edge, and the channel ids that name them. Forward edges are pointwise (subtask i talks
 * to subtask i only, as Flink's POINTWISE distribution), so the descriptor lists one peer.
 */
import { Partitioner } from '../dataflow/description.js';
import type { JobVertex } from '../dataflow/jobgraph.js';
import { createChannelSelector, type ChannelSelector } from '../dataflow/partitioners.js';
import type { StreamGraph } from '../dataflow/streamgraph.js';
import { RecordSerializer } from '../network/buffer.js';
import { formatChannelId } from '../network/channel-id.js';
import { InputGate, type CreditSender } from '../network/input-gate.js';
import { ResultPartition, type PartitionSender } from '../network/result-partition.js';
import type { ChannelPeer, TaskDeploymentDescriptor } from './descriptor.js';
import { InvalidDeploymentError } from './errors.js';
import type { TaskSettings } from './settings.js';

export interface TaskNetwork {
  readonly partitions: ResultPartition[];
  /** Per partition: the side output (OutputTag id) it carries, or undefined for the main output. */
  readonly partitionTags: (string | undefined)[];
  readonly gates: InputGate[];
  /** Per gate: which input of the head operator it feeds (2: the second input of connect). */
  readonly gateInputs: (1 | 2)[];
  /** Input channel id -> its gate. */
  readonly gateOf: Map<string, InputGate>;
  /** Channel id -> the TaskExecutor at its other end (to find channels broken by a lost connection). */
  readonly peerOf: Map<string, string>;
}

function byIndex(peers: readonly ChannelPeer[]): ChannelPeer[] {
  return [...peers].sort((a, b) => a.subtaskIndex - b.subtaskIndex);
}

export function wireNetwork(
  tdd: TaskDeploymentDescriptor,
  vertex: JobVertex,
  graph: StreamGraph,
  sender: PartitionSender & CreditSender,
  settings: TaskSettings,
): TaskNetwork {
  const serializer = new RecordSerializer();
  const peerOf = new Map<string, string>();
  if (tdd.outputs.length !== vertex.outputs.length || tdd.inputs.length !== vertex.inputs.length) {
    throw new InvalidDeploymentError(tdd.executionId, `descriptor has ${tdd.inputs.length} inputs / ${tdd.outputs.length} outputs, the vertex ${vertex.inputs.length} / ${vertex.outputs.length}`);
  }

  const partitionTags: (string | undefined)[] = [];
  const partitions = tdd.outputs.map((od, k) => {
    const edge = vertex.outputs[k];
    if (edge === undefined || edge.target !== od.targetVertexId) {
      throw new InvalidDeploymentError(tdd.executionId, `output ${k} goes to '${od.targetVertexId}', the job graph says '${edge?.target ?? 'nothing'}'`);
    }
    const consumers = byIndex(od.consumers);
    const channelIds = consumers.map((c) => {
      const id = formatChannelId({
        jobId: tdd.jobId,
        attempt: tdd.attempt,
        producerVertexId: tdd.vertexId,
        producerIndex: tdd.subtaskIndex,
        consumerVertexId: od.targetVertexId,
        consumerIndex: c.subtaskIndex,
      });
      peerOf.set(id, c.location.taskExecutorId);
      return id;
    });
    const streamEdge = graph.edges.find((e) => e.source === edge.sourceOperator && e.target === edge.targetOperator);
    partitionTags.push(streamEdge?.sideOutput);
    let selector: ChannelSelector;
    if (od.partitioner === Partitioner.Forward) {
      if (consumers.length !== 1) throw new InvalidDeploymentError(tdd.executionId, `forward output with ${consumers.length} consumers`);
      selector = () => 0;
    } else {
      const target = graph.operator(edge.targetOperator);
      selector = createChannelSelector({
        partitioner: od.partitioner,
        numberOfChannels: consumers.length,
        subtaskIndex: tdd.subtaskIndex,
        maxParallelism: target.description.maxParallelism,
        ...(streamEdge?.keySelector === undefined ? {} : { keySelector: streamEdge.keySelector }),
      });
    }
    return new ResultPartition(channelIds, selector, serializer, sender, { bufferBytes: settings.bufferBytes, maxBacklog: settings.maxBacklog });
  });

  const gateOf = new Map<string, InputGate>();
  const gateInputs: (1 | 2)[] = [];
  const gates = tdd.inputs.map((input, k) => {
    const edge = vertex.inputs[k];
    const streamEdge = edge === undefined ? undefined : graph.edges.find((e) => e.source === edge.sourceOperator && e.target === edge.targetOperator);
    gateInputs.push(streamEdge?.input ?? 1);
    const channelIds = byIndex(input.producers).map((p) => {
      const id = formatChannelId({
        jobId: tdd.jobId,
        attempt: tdd.attempt,
        producerVertexId: input.sourceVertexId,
        producerIndex: p.subtaskIndex,
        consumerVertexId: tdd.vertexId,
        consumerIndex: tdd.subtaskIndex,
      });
      peerOf.set(id, p.location.taskExecutorId);
      return id;
    });
    const gate = new InputGate(channelIds, sender, { exclusiveCredits: settings.exclusiveCredits, floatingCredits: settings.floatingCredits });
    for (const id of channelIds) gateOf.set(id, gate);
    return gate;
  });

  return { partitions, partitionTags, gates, gateInputs, gateOf, peerOf };
}
