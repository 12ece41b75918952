import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { emailHash } from '../../../../src/domain/suppressions.js';
import { BOUNCE_MAILBOX_JOB } from '../../../../src/features/feedback/mailbox/jobs.js';
import { verpDeliveryId } from '../../../../src/lib/verp.js';
import { buildTestApp, setupOwner, TEST_SECRET, type TestApp } from '../../../helpers/app.js';
import { DIALECTS } from '../../../helpers/db.js';
import { startImapServer, type ImapTestServer } from '../../../helpers/imap-server.js';
import { startSmtpServer, type TestSmtpServer } from '../../../helpers/smtp-server.js';
import { addReaders, makeNewsletter, testRenderer } from '../../../sending/fixtures.js';
import { sendPost, suppressionOf } from '../helpers.js';
import { closedPort, fixture } from './fixtures.js';

/** A fixture rewritten to be about one real delivery: its recipient and its Message-ID. */
function about(name: string, from: { address: string; messageId: string }, to: { address: string; messageId: string }): Buffer {
  const text = fixture(name)
    .toString('latin1')
    .replaceAll(from.messageId, to.messageId.replace(/^<|>$/g, ''))
    .replace(new RegExp(from.address.replace(/[.]/g, '\\.'), 'gi'), to.address);
  return Buffer.from(text, 'latin1');
}

describe('bounce mailbox end to end: IMAP → job → feedback service → suppression', () => {
  let imap: ImapTestServer;
  before(async () => {
    imap = await startImapServer();
  });
  after(async () => {
    await imap?.stop();
  });

  for (const dialect of DIALECTS) {
    describe(dialect, () => {
      let t: TestApp | undefined;
      let smtp: TestSmtpServer | undefined;
      afterEach(async () => {
        await t?.close();
        await smtp?.close();
        t = undefined;
        smtp = undefined;
      });

      const imapEnv = (mailbox: string, port = imap.port) => ({
        BOUNCE_IMAP_URL: `imap://${imap.user}:${imap.password}@127.0.0.1:${port}`,
        BOUNCE_IMAP_MAILBOX: mailbox,
        BOUNCE_IMAP_PROCESSED_FOLDER: `${mailbox}-done`,
        BOUNCE_IMAP_UNPARSED_FOLDER: `${mailbox}-unparsed`,
      });

      it('a DSN, an ARF complaint and a mailto unsubscribe in the mailbox take their readers off, and the next send skips them', async () => {
        smtp = await startSmtpServer();
        const mailbox = `E2E-${dialect}`;
        t = await buildTestApp(dialect, { env: { SMTP_URL: smtp.url, ...imapEnv(mailbox) }, renderer: testRenderer });
        const newsletterId = (await makeNewsletter(t.db.db, t.clock.now())).id;
        const readers = await addReaders(t.db.db, newsletterId, t.clock.now(), 4);
        const { postId, byEmail } = await sendPost(t, newsletterId);
        const [bounced, complained, kept, leaving] = readers.map((r) => ({ address: r.email, messageId: byEmail.get(r.email)!.message_id }));

        await imap.append(mailbox, about('postfix-hard.eml', { address: 'gone@example.org', messageId: '5c3f1a9e0b7d4e21a8c6f0d2e4b6a8c1@news.example.com' }, bounced!));
        await imap.append(mailbox, about('arf-yahoo.eml', { address: 'annoyed.reader@yahoo.com', messageId: 'a0b1c2d3e4f5061728394a5b6c7d8e9f@news.example.com' }, complained!));
        await imap.append(mailbox, fixture('human-reply.eml'));
        await imap.append(mailbox, fixture('mailto-unsubscribe.eml').toString('latin1').replace('q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1C', readers[3]!.token));

        const result = await t.jobs.runOnce(BOUNCE_MAILBOX_JOB);
        assert.equal(result.outcome, 'ok', JSON.stringify(result));

        const reports = await t.db.db.selectFrom('feedback_reports').selectAll().orderBy('kind').execute();
        assert.deepEqual(
          reports.map((r) => [r.source, r.kind, r.address, r.delivery_id, r.post_id, r.outcome]),
          [
            ['mailbox', 'complaint', complained!.address, byEmail.get(complained!.address)!.id, postId, 'suppressed'],
            ['mailbox', 'hard_bounce', bounced!.address, byEmail.get(bounced!.address)!.id, postId, 'suppressed'],
            ['mailbox', 'unsubscribe', leaving!.address, null, null, 'unsubscribed'],
          ],
        );
        assert.equal((await suppressionOf(t, emailHash(bounced!.address)))?.reason, 'bounced');
        assert.equal((await suppressionOf(t, emailHash(bounced!.address)))?.source, 'mailbox');
        assert.equal((await suppressionOf(t, emailHash(complained!.address)))?.reason, 'complained');
        assert.equal(await suppressionOf(t, emailHash(kept!.address)), undefined);

        assert.deepEqual(await imap.messages(mailbox), [], 'the mailbox is worked through');
        assert.equal((await imap.messages(`${mailbox}-done`)).length, 3);
        assert.equal((await imap.messages(`${mailbox}-unparsed`)).length, 1);

        // The same mail delivered again (a second copy in the mailbox) counts once.
        await imap.append(mailbox, about('postfix-hard.eml', { address: 'gone@example.org', messageId: '5c3f1a9e0b7d4e21a8c6f0d2e4b6a8c1@news.example.com' }, bounced!));
        assert.equal((await t.jobs.runOnce(BOUNCE_MAILBOX_JOB)).outcome, 'ok');
        assert.equal((await t.db.db.selectFrom('feedback_reports').select('id').execute()).length, 3);
        const subscription = await t.db.db.selectFrom('subscriptions').select('status').where('subscriber_id', '=', readers[3]!.id).executeTakeFirstOrThrow();
        assert.equal(subscription.status, 'unsubscribed');
        assert.equal(await suppressionOf(t, emailHash(leaving!.address)), undefined, 'unsubscribing is no suppression: they may sign up again');

        const before = smtp.messages.length;
        await sendPost(t, newsletterId);
        const recipients = smtp.messages.slice(before).flatMap((m) => m.envelope.to);
        assert.deepEqual(recipients, [kept!.address], 'the next post goes only to the reader who neither bounced, complained nor left');
      });

      it('with VERP each message leaves from bounces+<its token>@…, and a bounce that quotes nothing finds its delivery', async () => {
        smtp = await startSmtpServer();
        const mailbox = `VERP-${dialect}`;
        t = await buildTestApp(dialect, { env: { SMTP_URL: smtp.url, BOUNCE_VERP_ADDRESS: 'bounces@bounce.gazette.test', ...imapEnv(mailbox) }, renderer: testRenderer });
        const newsletterId = (await makeNewsletter(t.db.db, t.clock.now())).id;
        const readers = await addReaders(t.db.db, newsletterId, t.clock.now(), 2);
        const { postId, byEmail } = await sendPost(t, newsletterId);

        const tokens = new Map<string, string>();
        for (const m of smtp.messages) {
          const to = m.envelope.to[0]!;
          const token = /^bounces\+([0-9a-z]+\.[0-9a-z]{8})@bounce\.gazette\.test$/.exec(m.envelope.from)?.[1];
          assert.ok(token, `MAIL FROM ${m.envelope.from}`);
          assert.equal(verpDeliveryId(token, TEST_SECRET), byEmail.get(to)!.id, 'the token names this delivery');
          assert.match(m.parsed!.from!.text, /@/, 'the From header is untouched');
          assert.doesNotMatch(m.parsed!.from!.text, /bounces\+/);
          tokens.set(to, token);
        }
        assert.equal(tokens.size, 2);

        // The verp-only sample quotes nothing of the original: only its return path names the delivery.
        const gone = readers[0]!.email;
        const dsn = fixture('verp-only.eml')
          .toString('latin1')
          .replaceAll('bounces+Q2VA6Y1.k3j9x2p4@bounce.news.example.com', `bounces+${tokens.get(gone)}@bounce.gazette.test`)
          .replaceAll('closed@example.com', gone);
        await imap.append(mailbox, dsn);
        assert.equal((await t.jobs.runOnce(BOUNCE_MAILBOX_JOB)).outcome, 'ok');
        const [row] = await t.db.db.selectFrom('feedback_reports').selectAll().execute();
        assert.deepEqual([row?.kind, row?.address, row?.delivery_id, row?.post_id], ['hard_bounce', gone, byEmail.get(gone)!.id, postId]);
        assert.equal((await suppressionOf(t, emailHash(gone)))?.reason, 'bounced');
      });

      it('an unreachable mailbox fails the job run (shown on the Jobs page) and the app carries on', async () => {
        t = await buildTestApp(dialect, { env: imapEnv('Unreachable', await closedPort()) });
        const result = await t.jobs.runOnce(BOUNCE_MAILBOX_JOB);
        assert.equal(result.outcome, 'error');
        assert.match(result.outcome === 'error' ? result.error : '', /^Bounce mailbox bounces@127\.0\.0\.1:\d+: connecting failed: ECONNREFUSED/);
        const [run] = await t.db.db.selectFrom('job_runs').selectAll().where('job', '=', BOUNCE_MAILBOX_JOB).execute();
        assert.equal(run?.status, 'error');
        assert.equal((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
        const page = await (await setupOwner(t)).get('/admin/jobs');
        assert.equal(page.statusCode, 200);
        assert.match(page.body, /bounce-mailbox/);
        assert.match(page.body, /connecting failed: ECONNREFUSED/, 'the writer sees why on the Jobs page');
      });

      it('without BOUNCE_IMAP_URL there is no mailbox job', async () => {
        t = await buildTestApp(dialect);
        assert.equal(t.jobs.jobs().some((j) => j.name === BOUNCE_MAILBOX_JOB), false);
      });
    });
  }
});
