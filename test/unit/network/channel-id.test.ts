import assert from 'node:assert/strict';
import { consumerExecutionId, formatChannelId, parseChannelId, producerExecutionId } from '../../../lib/network/channel-id.js';

describe('network - channel ids', () => {
  const c = { jobId: 'job-1', attempt: 3, producerVertexId: 'op-0', producerIndex: 1, consumerVertexId: 'op-2', consumerIndex: 0 };

  it('network - a channel id round-trips and names both ends with the attempt', () => {
    const id = formatChannelId(c);
    assert.deepEqual(parseChannelId(id), c);
    assert.equal(producerExecutionId(c), 'job-1/3/op-0/1');
    assert.equal(consumerExecutionId(c), 'job-1/3/op-2/0');
  });

  it('network - separators inside uids do not break the parse', () => {
    const odd = { ...c, producerVertexId: 'my|uid', consumerVertexId: '50%/x' };
    assert.deepEqual(parseChannelId(formatChannelId(odd)), odd);
  });

  it('network - another attempt gives another channel id', () => {
    assert.notEqual(formatChannelId(c), formatChannelId({ ...c, attempt: 4 }));
  });

  it('network - malformed ids are rejected with INVALID_CHANNEL_ID', () => {
    for (const bad of ['', 'a|b', 'job|x|op|0|op|0', 'job|1|op|-1|op|0', 'job|1||0|op|0', 'job|1|op|0|op|0|extra', 'job|1|%E0%A4%A|0|op|0']) {
      assert.throws(() => parseChannelId(bad), { code: 'INVALID_CHANNEL_ID' }, bad);
    }
  });
});
