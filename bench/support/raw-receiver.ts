/**
 * The baseline for remote messaging: a raw `net` server that decodes msgpackr frames with the
 * same framing and batching as the transport, counts them (a frame holding an array counts its
 * records: the data-plane baseline), and answers a count request with the count. No
 * handshake, no actors.
 */
import net from 'node:net';
import { Packr } from 'msgpackr';
import { FrameBatch, FrameDecoder } from '../../lib/transport/frame.js';

const packr = new Packr({ useRecords: false });
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  const decoder = new FrameDecoder(16 * 1024 * 1024);
  let count = 0;
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk, (frame) => {
      const message = packr.unpack(frame) as { type: string } | unknown[];
      // A frame is one message, or (the data-plane baseline) a batch of records.
      if (Array.isArray(message)) count += message.length;
      else if (message.type === 'inc') count++;
      else {
        const batch = new FrameBatch(64);
        batch.append(packr.pack({ type: 'count', n: count }));
        socket.write(batch.take());
      }
    });
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as net.AddressInfo;
  process.stdout.write(JSON.stringify({ ready: true, port }) + '\n');
});
