import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import type { NewsletterRow } from '../../../src/db/tables/newsletters.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { makeNewsletter, makePost, makeSubscriber } from './factories.js';

/**
 * A writer trusts the test send to show the mail subscribers get: its From and Reply-To are the real
 * send's, and so are the reader emails' (confirmations). All of them land in the dev outbox as the bytes
 * that would have gone to the relay, so the headers compared here are the ones a mail client reads.
 */

const MAIL_FROM = '"Gazette Desk" <desk@example.com>';

interface Sender {
  from: { name: string; address: string } | undefined;
  replyTo: string | undefined;
}

async function sendersIn(t: TestApp): Promise<Map<string, Sender>> {
  const rows = await t.db.db.selectFrom('dev_outbox').selectAll().orderBy('id').execute();
  const out = new Map<string, Sender>();
  for (const row of rows) {
    const parsed = await simpleParser(row.raw);
    const from = parsed.from?.value[0];
    out.set(row.subject, {
      from: from ? { name: from.name, address: from.address ?? '' } : undefined,
      replyTo: parsed.replyTo?.value[0]?.address,
    });
  }
  return out;
}

const cases: Array<{ name: string; newsletter: Partial<NewsletterRow> }> = [
  { name: 'its own From name and address', newsletter: { from_name: 'Olive', from_email: 'news@example.com', reply_to: 'olive@example.com' } },
  { name: 'no From name, sending from MAIL_FROM’s address', newsletter: { from_name: '', from_email: 'desk@example.com', reply_to: null } },
  { name: 'no From name, its own address', newsletter: { from_name: '  ', from_email: 'news@example.com', reply_to: null } },
  { name: 'no valid From address (a row from before the form checked it)', newsletter: { from_name: 'Olive', from_email: '', reply_to: 'not an address' } },
];

for (const dialect of DIALECTS) {
  describe(`one sender for every mail of a newsletter (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    beforeEach(async () => {
      t = await buildTestApp(dialect, { mailer: 'dev-outbox', env: { MAIL_FROM } });
      admin = await setupOwner(t);
    });
    afterEach(() => t.close());

    for (const c of cases) {
      it(`the test send, the real send and the confirmation email share From and Reply-To: ${c.name}`, async () => {
        const n = await makeNewsletter(t, { name: 'Weekly Notes', slug: 'weekly', double_opt_in: 1, ...c.newsletter });
        await makeSubscriber(t, n.id, { email: 'reader@example.com' });
        const id = await makePost(t, n.id, { subject: 'Issue one', body: 'Hello.' });

        const test = await admin.post(`/admin/posts/${id}/test`, { recipients: 'olive@example.com' });
        assert.equal(test.statusCode, 200);
        assert.match(test.body, /Test sent to olive@example.com\./);
        assert.equal((await admin.post(`/admin/posts/${id}/send`)).statusCode, 303);
        await t.sending.runOnce();
        const subscribe = await t.app.inject({
          method: 'POST',
          url: '/n/weekly/subscribe',
          headers: { accept: 'application/json', 'content-type': 'application/json' },
          payload: { email: 'new-reader@example.com' },
        });
        assert.ok(subscribe.statusCode < 300, subscribe.body);
        await t.mailOutbox.idle();

        const senders = await sendersIn(t);
        const real = senders.get('Issue one');
        const testSend = senders.get('[Test] Issue one');
        const confirmation = senders.get('Confirm your subscription to Weekly Notes');
        assert.ok(real && testSend && confirmation, `mail in the outbox: ${[...senders.keys()].join(', ')}`);
        assert.ok(real.from?.address, 'the real send has a From address');
        assert.deepEqual(testSend, real, 'the test send shows the real send’s From and Reply-To');
        assert.deepEqual(confirmation, real, 'the confirmation email comes from the same sender');
      });
    }
  });
}
