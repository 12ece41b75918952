import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, OWNER, setupOwner, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';

for (const dialect of DIALECTS) {
  describe(`first-run setup (${dialect})`, () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
    });
    afterEach(() => t.close());

    it('sends the first visit to / and /admin to /setup', async () => {
      const agent = t.agent();
      const root = await agent.get('/');
      assert.equal(root.statusCode, 303);
      assert.equal(root.headers.location, '/setup');
      const admin = await agent.get('/admin');
      assert.equal(admin.statusCode, 303);
      const login = await agent.get(String(admin.headers.location));
      assert.equal(login.headers.location, '/setup');
    });

    it('creates the owner, signs them in, and then answers 404', async () => {
      const agent = await setupOwner(t);
      const dash = await agent.get('/admin');
      assert.equal(dash.statusCode, 200);
      assert.match(dash.body, new RegExp(`Hello, ${OWNER.name}`));
      const users = await t.db.db.selectFrom('users').selectAll().execute();
      assert.equal(users.length, 1);
      assert.equal(users[0]!.email, OWNER.email);
      assert.match(users[0]!.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.equal((await t.agent().get('/setup')).statusCode, 404);
      assert.equal((await t.agent().post('/setup', { name: 'Eve', email: 'eve@example.com', password: 'another long password' })).statusCode, 404);
      assert.equal((await t.db.db.selectFrom('users').selectAll().execute()).length, 1);
    });

    it('rejects a short password and an invalid email with messages beside the fields', async () => {
      const res = await t.agent().post('/setup', { name: 'Ann', email: 'not-an-email', password: 'short' });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /id="f-email-error">Enter a valid email address/);
      assert.equal((await t.db.db.selectFrom('users').selectAll().execute()).length, 0);
      const res2 = await t.agent().post('/setup', { name: 'Ann', email: 'ann@example.com', password: 'short' });
      assert.equal(res2.statusCode, 422);
      assert.match(res2.body, /id="f-password-error">Use at least 10 characters/);
      assert.match(res2.body, /value="ann@example.com"/);
    });
  });
}
