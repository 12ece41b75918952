import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { subscriptionOf } from './helpers.js';

const TOO_QUICK = 'That was quick — please press Subscribe again.';
const tokenIn = (body: string) => /name="t" value="([^"]+)"/.exec(body)?.[1];

/**
 * The hosted form's minimum fill time refuses honestly: a press that came too soon (autofill) or without a
 * valid form token gets the form back with a message and what was typed, never a page claiming a mail left.
 */
for (const dialect of DIALECTS) {
  describe(`the hosted form's fill time (${dialect})`, () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      await setupOwner(t);
    });
    afterEach(() => t.close());

    it('a too-fast press gets the form back with 422 and what was typed; the second press subscribes', async () => {
      const agent = t.agent();
      const first = tokenIn((await agent.get('/n/newsletter')).body)!;
      t.clock.advance(300);
      const fast = await agent.post('/n/newsletter/subscribe', { email: 'fay@example.com', name: 'Fay Fast', website: '', t: first });
      assert.equal(fast.statusCode, 422);
      assert.ok(fast.body.includes(TOO_QUICK), 'the page says why');
      assert.doesNotMatch(fast.body, /Check your inbox|we sent/);
      assert.match(fast.body, /name="email"[^>]*value="fay@example.com"|value="fay@example.com"[^>]*name="email"/);
      assert.match(fast.body, /value="Fay Fast"/);
      const second = tokenIn(fast.body);
      assert.ok(second && second !== first, 'a fresh form token');
      assert.equal(await subscriptionOf(t, 'fay@example.com'), undefined);
      assert.equal(t.mailer.sent.length, 0);

      // The person presses again straight away: this time it goes through.
      t.clock.advance(400);
      const again = await agent.post('/n/newsletter/subscribe', { email: 'fay@example.com', name: 'Fay Fast', website: '', t: second! });
      assert.equal(again.statusCode, 200);
      assert.match(again.body, /Check your inbox/);
      assert.equal((await subscriptionOf(t, 'fay@example.com'))?.status, 'pending');
      assert.equal(t.mailer.last()?.to, 'fay@example.com');
    });

    it('a form posted from the hosted page without its token, or with a forged one, is refused', async () => {
      const agent = t.agent();
      await agent.get('/n/newsletter');
      t.clock.advance(10_000);
      const forged = `${t.clock.now() - 10_000}.${'A'.repeat(43)}`;
      for (const token of [undefined, '', 'garbage', forged]) {
        const form: Record<string, string> = { email: 'sam@example.com', website: '' };
        if (token !== undefined) form.t = token;
        const res = await agent.post('/n/newsletter/subscribe', form);
        assert.equal(res.statusCode, 422, `token ${JSON.stringify(token)}`);
        assert.match(res.body, /please press Subscribe again/);
        assert.match(res.body, /value="sam@example.com"/);
        assert.ok(tokenIn(res.body), 'the form comes back with a valid token');
      }
      assert.equal(await subscriptionOf(t, 'sam@example.com'), undefined);
      assert.equal(t.mailer.sent.length, 0);
    });

    it('embeds and JSON clients need no token, but a forged one is still refused', async () => {
      const embed = (payload: string) =>
        t.app.inject({
          method: 'POST',
          url: '/n/newsletter/subscribe',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://someones-blog.example', 'sec-fetch-site': 'cross-site' },
          payload,
        });
      const json = (payload: Record<string, string>) =>
        t.app.inject({ method: 'POST', url: '/n/newsletter/subscribe', headers: { accept: 'application/json', 'content-type': 'application/json' }, payload });

      assert.equal((await embed('email=embed%40example.com&source=embed&website=')).statusCode, 200);
      assert.equal((await subscriptionOf(t, 'embed@example.com'))?.source, 'embed');
      assert.equal((await json({ email: 'api@example.com' })).statusCode, 200);
      assert.equal((await subscriptionOf(t, 'api@example.com'))?.source, 'api');

      const forgedEmbed = await embed('email=forged%40example.com&source=embed&website=&t=1.AAAA');
      assert.equal(forgedEmbed.statusCode, 422);
      assert.match(forgedEmbed.body, /please press Subscribe again/);
      const forgedJson = await json({ email: 'forged@example.com', t: '1.AAAA' });
      assert.equal(forgedJson.statusCode, 422);
      assert.match(forgedJson.json().error.fields.t, /please press Subscribe again/);
      assert.equal(await subscriptionOf(t, 'forged@example.com'), undefined);
    });
  });
}
