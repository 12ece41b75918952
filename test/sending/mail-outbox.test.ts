import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createMailOutbox, enqueueMail, RETRY_DELAYS_MS, STALE_CLAIM_MS, type MailOutbox } from '../../src/sending/mail-outbox.js';
import type { OutgoingMail } from '../../src/sending/mailer.js';
import { CapturingMailer } from '../helpers/capturing-mailer.js';
import { FakeClock } from '../helpers/clock.js';
import { createTestDb, DIALECTS, type TestDb } from '../helpers/db.js';

const mail = (to: string): OutgoingMail => ({ from: 'News <news@example.com>', to, subject: `Hello ${to}`, text: 'Hi.' });

/** An SMTP reply error as nodemailer reports it. */
function relayError(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code, response: `${code} ${text}` });
}

for (const dialect of DIALECTS) {
  describe(`mail outbox (${dialect})`, () => {
    let db: TestDb;
    let clock: FakeClock;
    let mailer: CapturingMailer;
    let outbox: MailOutbox;

    beforeEach(async () => {
      db = await createTestDb(dialect);
      clock = new FakeClock();
      mailer = new CapturingMailer();
      outbox = createMailOutbox({ db: db.db, mailer, clock });
    });
    afterEach(async () => {
      await outbox.stop();
      await db.drop();
    });

    const row = async (id: number) => db.db.selectFrom('mail_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    it('sends nothing until the transaction commits, then sends once with the Message-ID fixed at queueing', async () => {
      let id = 0;
      await db.db.transaction().execute(async (trx) => {
        id = await enqueueMail(trx, { kind: 'confirmation', mail: mail('a@example.com'), now: clock.now() });
        assert.equal(mailer.sent.length, 0);
      });
      const queued = await row(id);
      assert.equal(queued.status, 'queued');
      assert.equal(await outbox.runOnce(), 1);
      assert.equal(await outbox.runOnce(), 0, 'a sent message is never sent again');
      assert.equal(mailer.sent.length, 1);
      assert.equal(mailer.sent[0]!.messageId, queued.message_id);
      const sent = await row(id);
      assert.equal(sent.status, 'sent');
      assert.equal(sent.response, '250 captured');
      assert.equal(Number(sent.sent_at), clock.now());
    });

    it('a rolled-back transaction leaves no mail behind', async () => {
      await assert.rejects(
        db.db.transaction().execute(async (trx) => {
          await enqueueMail(trx, { kind: 'confirmation', mail: mail('b@example.com'), now: clock.now() });
          throw new Error('rolled back');
        }),
      );
      assert.equal(await outbox.runOnce(), 0);
      assert.equal(mailer.sent.length, 0);
    });

    it('retries a relay failure with backoff, then records the event once when it goes through', async () => {
      const subscriber = await db.db
        .insertInto('subscribers')
        .values({ email: 'c@example.com', name: '', token: 't'.repeat(32), source: 'form', created_at: 1, updated_at: 1, email_hash: 'h' } as never)
        .returning('id')
        .executeTakeFirstOrThrow();
      const id = await enqueueMail(db.db, { kind: 'confirmation', mail: mail('c@example.com'), now: clock.now(), subscriberId: Number(subscriber.id), eventType: 'confirmation_sent' });
      mailer.fail = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:2525'), { code: 'ESOCKET' });
      await outbox.runOnce();
      let r = await row(id);
      assert.equal(r.status, 'retry');
      assert.equal(r.attempts, 1);
      assert.equal(Number(r.next_attempt_at), clock.now() + RETRY_DELAYS_MS[0]!);
      assert.match(r.last_error ?? '', /ECONNREFUSED/);

      mailer.fail = relayError(421, 'Service not available, try later');
      clock.advance(RETRY_DELAYS_MS[0]! - 1);
      assert.equal(await outbox.runOnce(), 0, 'not due yet');
      clock.advance(1);
      await outbox.runOnce();
      r = await row(id);
      assert.equal(r.status, 'retry');
      assert.equal(Number(r.next_attempt_at), clock.now() + RETRY_DELAYS_MS[1]!);

      mailer.fail = undefined;
      clock.advance(RETRY_DELAYS_MS[1]!);
      await outbox.runOnce();
      assert.equal((await row(id)).status, 'sent');
      assert.equal(mailer.sent.length, 1);
      const events = await db.db.selectFrom('events').select(['type', 'subscriber_id']).execute();
      assert.deepEqual(events.map((e) => [e.type, Number(e.subscriber_id)]), [['confirmation_sent', Number(subscriber.id)]]);
    });

    it('gives up after the last retry, and at once on a permanent refusal; the writer can send again', async () => {
      const flaky = await enqueueMail(db.db, { kind: 'confirmation', mail: mail('d@example.com'), now: clock.now() });
      mailer.fail = Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' });
      for (let i = 0; i <= RETRY_DELAYS_MS.length; i += 1) {
        await outbox.runOnce();
        clock.advance(RETRY_DELAYS_MS[i] ?? 0);
      }
      const given = await row(flaky);
      assert.equal(given.status, 'failed');
      assert.equal(given.attempts, RETRY_DELAYS_MS.length + 1);

      const refused = await enqueueMail(db.db, { kind: 'confirmation', mail: mail('e@example.com'), now: clock.now() });
      mailer.fail = relayError(550, '5.1.1 No such user');
      await outbox.runOnce();
      assert.equal((await row(refused)).status, 'failed');
      assert.equal((await row(refused)).attempts, 1);

      mailer.fail = undefined;
      assert.equal(await outbox.resend(refused), true);
      await outbox.idle();
      assert.equal((await row(refused)).status, 'sent');
      assert.equal(await outbox.resend(refused), false, 'a sent message cannot be queued again');
    });

    it('a message claimed by a process that died becomes unknown and is not resent by itself', async () => {
      const id = await enqueueMail(db.db, { kind: 'confirmation', mail: mail('f@example.com'), now: clock.now() });
      // The claim a crashed process left behind.
      await db.db.updateTable('mail_outbox').set({ status: 'sending', claimed_at: clock.now(), attempts: 1 }).where('id', '=', id).execute();
      await outbox.runOnce();
      assert.equal((await row(id)).status, 'sending', 'a recent claim may still be in flight');
      clock.advance(STALE_CLAIM_MS + 1);
      assert.equal(await outbox.runOnce(), 0);
      assert.equal((await row(id)).status, 'unknown');
      assert.equal(mailer.sent.length, 0);
      assert.equal(await outbox.resend(id), true);
      await outbox.idle();
      assert.equal((await row(id)).status, 'sent');
    });

    it('two senders on one database send each message exactly once', async () => {
      for (let i = 0; i < 30; i += 1) await enqueueMail(db.db, { kind: 'confirmation', mail: mail(`g${i}@example.com`), now: clock.now() });
      const otherMailer = new CapturingMailer();
      const other = createMailOutbox({ db: db.db, mailer: otherMailer, clock });
      const [a, b] = await Promise.all([outbox.runOnce(), other.runOnce()]);
      await other.stop();
      assert.equal(a + b, 30);
      const to = [...mailer.sent, ...otherMailer.sent].map((m) => m.to).sort();
      assert.equal(new Set(to).size, 30);
      assert.equal(to.length, 30);
    });
  });
}
