import assert from 'node:assert/strict';
import { Router } from '../../../lib/rest/router.js';

describe('rest router - matching paths and methods', () => {
  const router = new Router<string>().add('GET', '/api/jobs', 'list').add('GET', '/api/jobs/:id', 'get').add('POST', '/api/jobs/:id/cancel', 'cancel');

  it('matches exact paths and binds decoded parameters', () => {
    assert.deepEqual(router.match('GET', '/api/jobs'), { kind: 'found', handler: 'list', params: {} });
    assert.deepEqual(router.match('GET', '/api/jobs/a%20b/'), { kind: 'found', handler: 'get', params: { id: 'a b' } });
    assert.deepEqual(router.match('POST', '/api/jobs/j1/cancel'), { kind: 'found', handler: 'cancel', params: { id: 'j1' } });
  });

  it('names the allowed methods of a known path, and nothing for an unknown one', () => {
    assert.deepEqual(router.match('DELETE', '/api/jobs/j1'), { kind: 'method', allowed: ['GET'] });
    assert.deepEqual(router.match('GET', '/api/jobs/j1/cancel'), { kind: 'method', allowed: ['POST'] });
    assert.deepEqual(router.match('GET', '/api/nothing'), { kind: 'none' });
    assert.deepEqual(router.match('GET', '/api/jobs/%E0%A4%A'), { kind: 'none' }, 'a malformed escape matches nothing');
  });
});
