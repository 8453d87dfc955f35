import assert from 'node:assert/strict';
import { decodeLeaderRecord, encodeLeaderRecord } from '../../../lib/ha/etcd-election.js';

describe('ha leader record - what a leader key holds', () => {
  it('carries the REST address a Master publishes beside its address', () => {
    const value = encodeLeaderRecord('127.0.0.1:6123', { rest: '127.0.0.1:8081' });
    assert.deepEqual(decodeLeaderRecord(value, '0007'), { address: '127.0.0.1:6123', sessionId: '0007', rest: '127.0.0.1:8081' });
    assert.deepEqual(decodeLeaderRecord(encodeLeaderRecord('m:1', { rest: null }), '1'), { address: 'm:1', sessionId: '1', rest: null });
  });

  it('stays a plain address for contenders that publish nothing, and reads plain addresses as they are', () => {
    assert.equal(encodeLeaderRecord('127.0.0.1:6123'), '127.0.0.1:6123');
    assert.deepEqual(decodeLeaderRecord('127.0.0.1:6123', '0001'), { address: '127.0.0.1:6123', sessionId: '0001' });
    assert.deepEqual(decodeLeaderRecord('{not json', '0001'), { address: '{not json', sessionId: '0001' });
  });

  it("carries the leader process's instance, by which a standby recognizes the term's process", () => {
    const value = encodeLeaderRecord('127.0.0.1:6123', { rest: null, instance: 'uid-1' });
    assert.deepEqual(decodeLeaderRecord(value, '0007'), { address: '127.0.0.1:6123', sessionId: '0007', rest: null, instance: 'uid-1' });
    // An instance that is not a short string is no instance: no proof of death can use it.
    assert.equal(decodeLeaderRecord(JSON.stringify({ address: 'm:1', instance: 7 }), '1').instance, undefined);
    assert.equal(decodeLeaderRecord(JSON.stringify({ address: 'm:1', instance: 'x'.repeat(300) }), '1').instance, undefined);
  });
});
