/**
 * Data messages on a TCP data connection, inside the length-prefixed frames of
 * lib/transport/frame.ts. A binary layout rather than MessagePack, so that a 32 KB buffer is
 * written to the socket as is (no copy into an encoder) and read back with one copy:
 *
 *   [u32 frame length][u8 kind][u16 channel id length][channel id, utf8][body]
 *   body: buffer -> [u32 backlog][records]; credit -> [u32 n]; end-of-partition -> nothing;
 *         barrier -> [f64 checkpoint id][u8 savepoint][checkpoint dir, utf8]
 *
 * and the heartbeat, which belongs to the connection rather than a channel: [u32 1][u8 kind].
 */
import { FRAME_HEADER_BYTES } from '../transport/frame.js';
import { DataProtocolError } from './errors.js';
import { DataMessageType, type DataMessage } from './messages.js';

const KIND_BUFFER = 1;
const KIND_END_OF_PARTITION = 2;
const KIND_CREDIT = 3;
const KIND_BARRIER = 4;
const KIND_HEARTBEAT = 5;

/** Sent on an idle data connection, so that silence means a dead (or idle, unwanted) peer. */
export const DATA_HEARTBEAT_FRAME: Buffer = Buffer.from([0, 0, 0, 1, KIND_HEARTBEAT]);

/** Whether a frame's payload is a heartbeat (checked before decoding it as a data message). */
export function isDataHeartbeat(frame: Buffer): boolean {
  return frame.length === 1 && frame[0] === KIND_HEARTBEAT;
}

/** The header's size for a channel id of `idBytes` bytes, without the body. */
function headerSize(idBytes: number): number {
  return FRAME_HEADER_BYTES + 1 + 2 + idBytes;
}

/**
 * The chunks to write for one message: a small header and, for a buffer, the records as a
 * view on the message's ArrayBuffer (not copied).
 */
export function encodeDataMessage(msg: DataMessage): Buffer[] {
  const idBytes = Buffer.byteLength(msg.ch);
  if (idBytes > 0xffff) throw new DataProtocolError(`channel id of ${idBytes} bytes`);
  const base = headerSize(idBytes);
  switch (msg.t) {
    case DataMessageType.Buffer: {
      const head = Buffer.allocUnsafe(base + 4);
      writeHead(head, KIND_BUFFER, msg.ch, idBytes, head.length - FRAME_HEADER_BYTES + msg.length);
      head.writeUInt32BE(msg.backlog, base);
      return [head, Buffer.from(msg.data, 0, msg.length)];
    }
    case DataMessageType.Credit: {
      const head = Buffer.allocUnsafe(base + 4);
      writeHead(head, KIND_CREDIT, msg.ch, idBytes, head.length - FRAME_HEADER_BYTES);
      head.writeUInt32BE(msg.n, base);
      return [head];
    }
    case DataMessageType.EndOfPartition: {
      const head = Buffer.allocUnsafe(base);
      writeHead(head, KIND_END_OF_PARTITION, msg.ch, idBytes, head.length - FRAME_HEADER_BYTES);
      return [head];
    }
    case DataMessageType.Barrier: {
      const dirBytes = Buffer.byteLength(msg.barrier.dir);
      const head = Buffer.allocUnsafe(base + 9 + dirBytes);
      writeHead(head, KIND_BARRIER, msg.ch, idBytes, head.length - FRAME_HEADER_BYTES);
      head.writeDoubleBE(msg.barrier.checkpointId, base);
      head.writeUInt8(msg.barrier.savepoint ? 1 : 0, base + 8);
      head.write(msg.barrier.dir, base + 9, dirBytes, 'utf8');
      return [head];
    }
  }
}

function writeHead(head: Buffer, kind: number, ch: string, idBytes: number, frameLength: number): void {
  head.writeUInt32BE(frameLength, 0);
  head.writeUInt8(kind, FRAME_HEADER_BYTES);
  head.writeUInt16BE(idBytes, FRAME_HEADER_BYTES + 1);
  head.write(ch, FRAME_HEADER_BYTES + 3, idBytes, 'utf8');
}

/**
 * Decodes one frame's payload (without its length prefix). A buffer's records are copied into
 * a fresh ArrayBuffer, which is then transferred to the consumer's worker. Throws
 * DataProtocolError on anything malformed.
 */
export function decodeDataFrame(frame: Buffer): DataMessage {
  if (frame.length < 3) throw new DataProtocolError(`frame of ${frame.length} bytes is too short`);
  const kind = frame.readUInt8(0);
  const idBytes = frame.readUInt16BE(1);
  const bodyAt = 3 + idBytes;
  if (idBytes === 0 || bodyAt > frame.length) throw new DataProtocolError(`channel id of ${idBytes} bytes does not fit the frame`);
  const ch = frame.toString('utf8', 3, bodyAt);
  const bodyBytes = frame.length - bodyAt;
  switch (kind) {
    case KIND_BUFFER: {
      if (bodyBytes < 5) throw new DataProtocolError('buffer frame without records');
      const backlog = frame.readUInt32BE(bodyAt);
      const length = bodyBytes - 4;
      const data = new ArrayBuffer(length);
      frame.copy(Buffer.from(data), 0, bodyAt + 4);
      return { t: DataMessageType.Buffer, ch, data, length, backlog };
    }
    case KIND_CREDIT:
      if (bodyBytes !== 4) throw new DataProtocolError(`credit frame with a body of ${bodyBytes} bytes`);
      return { t: DataMessageType.Credit, ch, n: frame.readUInt32BE(bodyAt) };
    case KIND_END_OF_PARTITION:
      if (bodyBytes !== 0) throw new DataProtocolError(`end-of-partition frame with a body of ${bodyBytes} bytes`);
      return { t: DataMessageType.EndOfPartition, ch };
    case KIND_BARRIER: {
      if (bodyBytes < 9) throw new DataProtocolError(`barrier frame with a body of ${bodyBytes} bytes`);
      const checkpointId = frame.readDoubleBE(bodyAt);
      if (!Number.isSafeInteger(checkpointId)) throw new DataProtocolError(`barrier with checkpoint id ${checkpointId}`);
      const barrier = { checkpointId, savepoint: frame.readUInt8(bodyAt + 8) === 1, dir: frame.toString('utf8', bodyAt + 9) };
      return { t: DataMessageType.Barrier, ch, barrier };
    }
    default:
      throw new DataProtocolError(`unknown frame kind ${kind}`);
  }
}
