import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { API_SCOPES, hasScope, type ApiScope } from '../../../src/features/api/keys.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';

interface Operation {
  method: string;
  path: string;
  scope: ApiScope;
}

for (const dialect of DIALECTS) {
  describe(`REST API scopes, route by route (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    const keys = new Map<string, string>();

    before(async () => {
      t = await buildTestApp(dialect, { env: { API_RATE_LIMIT: '100000' } });
      admin = await setupOwner(t);
      await admin.get('/admin/api');
    });
    after(() => t.close());

    async function keyWith(scopes: readonly string[]): Promise<string> {
      const name = scopes.join(' ') || 'none';
      const known = keys.get(name);
      if (known) return known;
      const res = await admin.post('/admin/api/keys', { name: `k${keys.size}`, scopes: [...scopes] });
      assert.equal(res.statusCode, 201, res.body.slice(0, 300));
      const key = /id="api-key"[^>]*value="(gz_[a-z2-7]+)"/.exec(res.body)![1]!;
      keys.set(name, key);
      return key;
    }

    /** Every documented operation and the scope the document says it needs. */
    async function operations(): Promise<Operation[]> {
      const doc = (await t.app.inject({ url: '/api/v1/openapi.json', headers: { host: 'gazette.test' } })).json<{ paths: Record<string, Record<string, { security?: Array<{ bearer: string[] }> }>> }>();
      return Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, scope: op.security?.[0]?.bearer[0] as ApiScope })),
      );
    }

    const request = (key: string, op: Operation) =>
      t.app.inject({
        method: op.method as 'GET',
        // A made-up id: the key's scope is checked before the id is looked up.
        url: `/api/v1${op.path.replace(/\{[^}]+\}/g, '999999')}`,
        headers: { host: 'gazette.test', authorization: `Bearer ${key}`, ...(op.method === 'GET' || op.method === 'DELETE' ? {} : { 'content-type': 'application/json' }) },
        ...(op.method === 'GET' || op.method === 'DELETE' ? {} : { payload: '{}' }),
      });

    it('documents a scope on every operation; a key without it gets 403, a key with only it gets past the check', async () => {
      const ops = await operations();
      assert.ok(ops.length >= 25, `${ops.length} operations documented`);
      for (const op of ops) {
        assert.ok((API_SCOPES as readonly string[]).includes(op.scope), `${op.method} ${op.path} names a known scope (${op.scope})`);
        // Everything that does not cover the needed scope, read scopes of the same resource included.
        const without = API_SCOPES.filter((s) => !hasScope([s], op.scope));
        const refused = await request(await keyWith(without), op);
        assert.equal(refused.statusCode, 403, `${op.method} ${op.path} without ${op.scope}: ${refused.body.slice(0, 200)}`);
        assert.match(refused.json<{ detail: string }>().detail, new RegExp(op.scope.replace(/:/g, ':')));
        const allowed = await request(await keyWith([op.scope]), op);
        assert.ok(![401, 403].includes(allowed.statusCode) && allowed.statusCode < 500, `${op.method} ${op.path} with ${op.scope}: ${allowed.statusCode} ${allowed.body.slice(0, 200)}`);
      }
    });
  });
}
