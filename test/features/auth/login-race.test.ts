import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, OWNER, setupOwner, TEST_BASE_URL, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';

/**
 * The login limits hold under concurrency: every attempt takes its slot before the password check, so
 * a burst of parallel guesses gets no more checks than the limit allows (a 401 means a check ran).
 */
for (const dialect of DIALECTS) {
  describe(`login limits under parallel attempts (${dialect})`, () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      await setupOwner(t);
    });
    afterEach(() => t.close());

    const loginFrom = (ip: string, form: Record<string, string>) =>
      t.app.inject({
        method: 'POST',
        url: '/login',
        remoteAddress: ip,
        headers: { host: 'gazette.test', origin: TEST_BASE_URL, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(form).toString(),
      });

    const tally = (codes: number[]) => codes.reduce<Record<number, number>>((acc, c) => ({ ...acc, [c]: (acc[c] ?? 0) + 1 }), {});

    it('100 parallel wrong passwords for one account get at most 5 checks', async () => {
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) => loginFrom('198.51.100.20', { email: OWNER.email, password: `wrong guess ${i}` })),
      );
      assert.deepEqual(tally(answers.map((r) => r.statusCode)), { 401: 5, 429: 95 });
      // The limit still holds afterwards, for the right password too.
      assert.equal((await loginFrom('198.51.100.20', { email: OWNER.email, password: OWNER.password })).statusCode, 429);
    });

    it('100 parallel guesses across many accounts from one address get at most 30 checks', async () => {
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) => loginFrom('198.51.100.21', { email: `user${i}@example.com`, password: 'guess guess' })),
      );
      assert.deepEqual(tally(answers.map((r) => r.statusCode)), { 401: 30, 429: 70 });
    });

    it('a successful sign-in gives its slots back: only failures use up the limits', async () => {
      for (let i = 0; i < 4; i++) assert.equal((await loginFrom('198.51.100.22', { email: OWNER.email, password: `guess ${i} guess` })).statusCode, 401);
      for (let i = 0; i < 25; i++) assert.equal((await loginFrom('198.51.100.22', { email: OWNER.email, password: OWNER.password })).statusCode, 303);
      // The successes cleared the account's failures and took nothing from the address's 30.
      for (let i = 0; i < 5; i++) assert.equal((await loginFrom('198.51.100.22', { email: OWNER.email, password: `again ${i} again` })).statusCode, 401);
      assert.equal((await loginFrom('198.51.100.22', { email: OWNER.email, password: OWNER.password })).statusCode, 429);
      for (let i = 0; i < 21; i++) assert.equal((await loginFrom('198.51.100.22', { email: `user${i}@example.com`, password: 'guess guess' })).statusCode, 401, `failure ${i}`);
      assert.equal((await loginFrom('198.51.100.22', { email: 'user99@example.com', password: 'guess guess' })).statusCode, 429);
    });
  });
}
