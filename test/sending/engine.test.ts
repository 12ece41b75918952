import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ConflictError } from '../../src/lib/errors.js';
import { emailHash } from '../../src/domain/suppressions.js';
import { createSendingEngine } from '../../src/sending/engine.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';
import { reply, startSmtpServer, type SmtpServerOptions, type TestSmtpServer } from '../helpers/smtp-server.js';
import { addReaders, deliveries, makeNewsletter, makePost, postStatus, statusCounts, testRenderer, type Reader } from './fixtures.js';
import { startRelayProxy } from './relay-proxy.js';

/**
 * The engine against a real SMTP server that answers what each test scripts: every outcome class,
 * backoff on the FakeClock, relay outages, the writer's pause/resume/cancel, unsubscribes during a
 * send, crash recovery, schedules, and the dev outbox. Time only moves when a test moves it.
 */

const MINUTE = 60_000;

/** Holds the relay's answer to the first message until the test releases it. */
function holdFirstMessage(smtp: TestSmtpServer): { arrived: Promise<void>; release: () => void } {
  let release!: () => void;
  let arrive!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const arrived = new Promise<void>((r) => (arrive = r));
  let first = true;
  smtp.respond.onData = async () => {
    if (first) {
      first = false;
      arrive();
      await held;
    }
    return undefined;
  };
  return { arrived, release };
}
const OPTIONS = { retryBaseMs: MINUTE, retryMaxMs: 60 * MINUTE, relayBackoffBaseMs: MINUTE, relayBackoffMaxMs: 30 * MINUTE, maxAttempts: 4 };

interface Setup {
  t: TestApp;
  smtp: TestSmtpServer;
  readers: Reader[];
  postId: number;
  newsletterId: number;
}

for (const dialect of DIALECTS) {
  describe(`sending engine (${dialect})`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    async function setup(o: { readers?: number; pool?: number; env?: Record<string, string>; smtp?: SmtpServerOptions; smtpUrl?: string } = {}): Promise<Setup> {
      const smtp = await startSmtpServer(o.smtp);
      cleanups.push(() => smtp.close());
      const t = await buildTestApp(dialect, {
        env: { SMTP_URL: o.smtpUrl ?? smtp.url, SMTP_POOL_SIZE: String(o.pool ?? 2), ...o.env },
        renderer: testRenderer,
        sending: { options: OPTIONS },
      });
      cleanups.push(() => t.close());
      const nl = await makeNewsletter(t.db.db, t.clock.now());
      const readers = await addReaders(t.db.db, nl.id, t.clock.now(), o.readers ?? 6);
      const postId = await makePost(t.db.db, nl.id, t.clock.now());
      return { t, smtp, readers, postId, newsletterId: nl.id };
    }

    const received = (smtp: TestSmtpServer, email: string) => smtp.messages.filter((m) => m.envelope.to.includes(email)).length;

    it('snapshots the audience, sends each recipient exactly once and finishes the post', async () => {
      const { t, smtp, readers, postId } = await setup({ readers: 25, pool: 3 });
      await t.sending.startPost(postId);
      assert.equal((await postStatus(t.db.db, postId)).status, 'sending');
      assert.equal((await deliveries(t.db.db, postId)).length, 25);
      await t.sending.runOnce();
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 25 });
      for (const r of readers) assert.equal(received(smtp, r.email), 1);
      const post = await postStatus(t.db.db, postId);
      assert.equal(post.status, 'sent');
      assert.equal(post.sent_at, t.clock.now());
      assert.ok(smtp.connections.maxOpen <= 3, `at most SMTP_POOL_SIZE connections (${smtp.connections.maxOpen})`);
      // Starting again is refused, and the snapshot is idempotent.
      await assert.rejects(t.sending.startPost(postId), ConflictError);
      const progress = await t.sending.progress(postId);
      assert.equal(progress.sent, 25);
      assert.equal(progress.total, 25);
      assert.equal(progress.remaining, 0);
      assert.equal(progress.postStatus, 'sent');
      assert.equal(progress.live, false);
    });

    it('retries a 4xx with exponential backoff on the clock, then sends', async () => {
      const { t, smtp, readers, postId } = await setup();
      const slow = readers[2]!.email;
      let refusals = 0;
      smtp.respond.onRcpt = (address) => (address === slow && refusals++ < 2 ? reply(451, '4.7.1 Greylisted, try again later') : undefined);
      await t.sending.startPost(postId);
      await t.sending.runOnce();
      let row = (await deliveries(t.db.db, postId)).find((d) => d.email === slow)!;
      assert.equal(row.status, 'retry');
      assert.equal(row.attempts, 1);
      assert.equal(row.next_attempt_at, t.clock.now() + MINUTE);
      assert.match(row.error ?? '', /451 4\.7\.1 Greylisted/);
      assert.equal((await postStatus(t.db.db, postId)).status, 'sending');
      assert.equal((await t.sending.progress(postId)).retrying, 1);

      t.clock.advance(MINUTE - 1);
      await t.sending.runOnce();
      assert.equal(refusals, 1, 'not retried before its time');
      t.clock.advance(1);
      await t.sending.runOnce();
      row = (await deliveries(t.db.db, postId)).find((d) => d.email === slow)!;
      assert.equal(row.attempts, 2);
      assert.equal(row.next_attempt_at, t.clock.now() + 2 * MINUTE, 'the second wait is twice the first');

      t.clock.advance(2 * MINUTE);
      await t.sending.runOnce();
      row = (await deliveries(t.db.db, postId)).find((d) => d.email === slow)!;
      assert.equal(row.status, 'sent');
      assert.equal(row.attempts, 3);
      assert.equal(received(smtp, slow), 1);
      assert.equal((await postStatus(t.db.db, postId)).status, 'sent');
    });

    it('gives a recipient up as failed after the attempt limit, without suppressing it', async () => {
      const { t, smtp, readers, postId } = await setup();
      const stuck = readers[0]!.email;
      smtp.respond.onRcpt = (address) => (address === stuck ? reply(452, '4.2.2 Mailbox full') : undefined);
      await t.sending.startPost(postId);
      for (let i = 0; i < 4; i++) {
        await t.sending.runOnce();
        t.clock.advance(60 * MINUTE);
      }
      const row = (await deliveries(t.db.db, postId)).find((d) => d.email === stuck)!;
      assert.equal(row.status, 'failed');
      assert.equal(row.attempts, 4);
      assert.match(row.error ?? '', /Gave up after 4 attempts.*452 4\.2\.2 Mailbox full/);
      assert.equal(await t.db.db.selectFrom('suppressions').selectAll().executeTakeFirst(), undefined);
      assert.equal((await postStatus(t.db.db, postId)).status, 'sent');
    });

    it('fails a 5xx recipient at once and suppresses the address as a hard bounce', async () => {
      const { t, smtp, readers, postId, newsletterId } = await setup();
      const gone = readers[1]!;
      smtp.respond.onRcpt = (address) => (address === gone.email ? reply(550, '5.1.1 No such user here') : undefined);
      await t.sending.startPost(postId);
      await t.sending.runOnce();
      const row = (await deliveries(t.db.db, postId)).find((d) => d.email === gone.email)!;
      assert.equal(row.status, 'failed');
      assert.equal(row.attempts, 1);
      assert.match(row.error ?? '', /550 5\.1\.1 No such user here/);
      const suppression = await t.db.db.selectFrom('suppressions').selectAll().executeTakeFirstOrThrow();
      assert.equal(suppression.email_hash, emailHash(gone.email));
      assert.equal(suppression.reason, 'bounced');
      const event = await t.db.db.selectFrom('events').selectAll().where('type', '=', 'bounced').executeTakeFirstOrThrow();
      assert.equal(event.subscriber_id, gone.id);
      assert.equal(event.post_id, postId);
      assert.equal(event.newsletter_id, newsletterId);
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 5, failed: 1 });
      const progress = await t.sending.progress(postId);
      assert.equal(progress.failed, 1);
      assert.deepEqual(progress.problems.map((p) => p.email), [gone.email]);
    });

    it('retries when the connection drops before the end of DATA (the relay cannot have it)', async () => {
      const { t, smtp, readers, postId } = await setup();
      const target = readers[3]!.email;
      let dropping = true;
      smtp.respond.onRcpt = (address) => (address === target && dropping ? 'drop' : undefined);
      await t.sending.startPost(postId);
      await t.sending.runOnce();
      const row = (await deliveries(t.db.db, postId)).find((d) => d.email === target)!;
      assert.equal(row.status, 'retry');
      assert.match(row.error ?? '', /ECONNECTION|closed/i);
      dropping = false;
      t.clock.advance(MINUTE);
      await t.sending.runOnce();
      assert.equal(received(smtp, target), 1);
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 6 });
    });

    it('marks a message unknown when the connection drops after the end of DATA, and "retry these" reuses its Message-ID', async () => {
      const { t, smtp, readers, postId } = await setup();
      const target = readers[4]!.email;
      let drops = 0;
      smtp.respond.onData = (_raw, envelope) => (envelope.to.includes(target) && drops++ === 0 ? 'drop' : undefined);
      await t.sending.startPost(postId);
      await t.sending.runOnce();
      let row = (await deliveries(t.db.db, postId)).find((d) => d.email === target)!;
      assert.equal(row.status, 'unknown');
      assert.equal((await postStatus(t.db.db, postId)).status, 'sent', 'an unknown outcome is final until the writer decides');
      t.clock.advance(24 * 60 * MINUTE);
      await t.sending.runOnce();
      assert.equal(received(smtp, target), 0, 'never re-sent silently');
      const progress = await t.sending.progress(postId);
      assert.equal(progress.unknown, 1);
      assert.equal(progress.problems[0]!.messageId, row.message_id);

      assert.equal(await t.sending.retryRecipients(postId, ['unknown']), 1);
      assert.equal((await postStatus(t.db.db, postId)).status, 'sending');
      await t.sending.runOnce();
      row = (await deliveries(t.db.db, postId)).find((d) => d.email === target)!;
      assert.equal(row.status, 'sent');
      const dropped = smtp.refusals.find((r) => r.answer === 'drop')!;
      const resent = smtp.messages.find((m) => m.envelope.to.includes(target))!;
      assert.match(dropped.raw!.toString(), new RegExp(`Message-ID: ${row.message_id}`));
      assert.equal(resent.parsed!.messageId, row.message_id);
      assert.equal((await postStatus(t.db.db, postId)).status, 'sent');
    });

    it('pauses the whole send while the relay is down, fails nobody, and resumes by itself when it is back', async () => {
      const smtpForProxy = await startSmtpServer();
      cleanups.push(() => smtpForProxy.close());
      const proxy = await startRelayProxy(smtpForProxy.port);
      cleanups.push(() => proxy.close());
      await proxy.down();
      const { t, readers, postId } = await setup({ smtpUrl: proxy.url });
      await t.sending.startPost(postId);
      await t.sending.runOnce();
      let post = await postStatus(t.db.db, postId);
      assert.equal(post.status, 'paused');
      assert.match(post.paused_reason ?? '', /not accepting mail.*ECONNREFUSED|ECONNREFUSED/);
      assert.equal(post.resume_at, t.clock.now() + MINUTE);
      assert.deepEqual(await statusCounts(t.db.db, postId), { queued: 6 });

      // Still down at the first probe: the wait doubles, recipients stay queued.
      t.clock.advance(MINUTE);
      await t.sending.runOnce();
      post = await postStatus(t.db.db, postId);
      assert.equal(post.status, 'paused');
      assert.equal(post.resume_at, t.clock.now() + 2 * MINUTE);
      assert.deepEqual(await statusCounts(t.db.db, postId), { queued: 6 });
      const progress = await t.sending.progress(postId);
      assert.equal(progress.live, true);
      assert.ok(progress.pausedReason);

      await proxy.up();
      t.clock.advance(2 * MINUTE - 1);
      await t.sending.runOnce();
      assert.equal((await postStatus(t.db.db, postId)).status, 'paused', 'waits for its time');
      t.clock.advance(1);
      await t.sending.runOnce();
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 6 });
      assert.equal((await postStatus(t.db.db, postId)).status, 'sent');
      for (const r of readers) assert.equal(smtpForProxy.messages.filter((m) => m.envelope.to.includes(r.email)).length, 1);
    });

    it('pauses on an authentication failure with the relay\'s answer as the reason', async () => {
      const { t, postId } = await setup({ smtp: { auth: { user: 'gazette', pass: 'right' } } });
      // Point at the same server with the wrong password.
      const wrong = await buildTestApp(dialect, {
        env: { SMTP_URL: t.config.smtp ? `smtp://gazette:wrong@127.0.0.1:${t.config.smtp.port}` : '' },
        renderer: testRenderer,
        sending: { options: OPTIONS },
      });
      cleanups.push(() => wrong.close());
      const nl = await makeNewsletter(wrong.db.db, wrong.clock.now());
      await addReaders(wrong.db.db, nl.id, wrong.clock.now(), 3);
      const wrongPost = await makePost(wrong.db.db, nl.id, wrong.clock.now());
      await wrong.sending.startPost(wrongPost);
      await wrong.sending.runOnce();
      const post = await postStatus(wrong.db.db, wrongPost);
      assert.equal(post.status, 'paused');
      assert.match(post.paused_reason ?? '', /535/);
      assert.deepEqual(await statusCounts(wrong.db.db, wrongPost), { queued: 3 });
      // The right credentials send.
      await t.sending.startPost(postId);
      await t.sending.runOnce();
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 6 });
    });

    it('treats repeated 421 answers as relay trouble and pauses instead of burning attempts', async () => {
      const { t, smtp, postId } = await setup({ readers: 8, pool: 1 });
      smtp.respond.onMailFrom = () => reply(421, '4.7.0 Too many messages, slow down');
      await t.sending.startPost(postId);
      await t.sending.runOnce();
      const post = await postStatus(t.db.db, postId);
      assert.equal(post.status, 'paused');
      assert.match(post.paused_reason ?? '', /421/);
      assert.ok(post.resume_at);
      const counts = await statusCounts(t.db.db, postId);
      assert.equal(counts.failed, undefined);
      assert.ok((counts.retry ?? 0) <= 2, JSON.stringify(counts));
      smtp.respond.onMailFrom = undefined;
      t.clock.advance(60 * MINUTE);
      await t.sending.runOnce();
      t.clock.advance(60 * MINUTE);
      await t.sending.runOnce();
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 8 });
    });

    it('lets the writer cancel mid-send: the message in flight finishes, nothing else goes out', async () => {
      const { t, smtp, postId } = await setup({ readers: 10, pool: 1 });
      const { arrived, release } = holdFirstMessage(smtp);
      await t.sending.startPost(postId);
      const run = t.sending.runOnce();
      await arrived;
      await t.sending.cancelPost(postId);
      release();
      await run;
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 1, cancelled: 9 });
      assert.equal(smtp.messages.length, 1);
      assert.equal((await postStatus(t.db.db, postId)).status, 'cancelled');
      await t.sending.runOnce();
      assert.equal(smtp.messages.length, 1);
      await assert.rejects(t.sending.resumePost(postId), ConflictError);
    });

    it('lets the writer pause and resume; resume continues where it stopped', async () => {
      const { t, smtp, readers, postId } = await setup({ readers: 10, pool: 1 });
      const { arrived, release } = holdFirstMessage(smtp);
      await t.sending.startPost(postId);
      const run = t.sending.runOnce();
      await arrived;
      await t.sending.pausePost(postId);
      release();
      await run;
      const post = await postStatus(t.db.db, postId);
      assert.equal(post.status, 'paused');
      assert.equal(post.paused_reason, 'Paused by the writer.');
      assert.equal(post.resume_at, null);
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 1, queued: 9 });
      t.clock.advance(24 * 60 * MINUTE);
      await t.sending.runOnce();
      assert.equal(smtp.messages.length, 1, 'a writer\'s pause never ends by itself');
      await t.sending.resumePost(postId);
      await t.sending.runOnce();
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 10 });
      for (const r of readers) assert.equal(received(smtp, r.email), 1);
    });

    it('honours an unsubscribe or a suppression that happens during the send', async () => {
      const { t, smtp, readers, postId } = await setup({ readers: 8, pool: 1 });
      const { arrived, release } = holdFirstMessage(smtp);
      await t.sending.startPost(postId);
      const run = t.sending.runOnce();
      await arrived;
      const quitter = readers[5]!;
      const bounced = readers[6]!;
      await t.db.db.updateTable('subscriptions').set({ status: 'unsubscribed', unsubscribed_at: t.clock.now() }).where('subscriber_id', '=', quitter.id).execute();
      await t.db.db.insertInto('suppressions').values({ email_hash: emailHash(bounced.email), reason: 'complained', created_at: t.clock.now() }).execute();
      release();
      await run;
      assert.equal(received(smtp, quitter.email), 0);
      assert.equal(received(smtp, bounced.email), 0);
      const rows = await deliveries(t.db.db, postId);
      assert.match(rows.find((r) => r.email === quitter.email)!.error ?? '', /unsubscribed/);
      assert.equal(rows.find((r) => r.email === bounced.email)!.status, 'skipped');
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 6, skipped: 2 });
      assert.equal((await postStatus(t.db.db, postId)).status, 'sent');
    });

    it('recovers after a crash: claimed rows are re-queued, attempting rows become unknown (never re-sent)', async () => {
      const { t, smtp, postId } = await setup({ readers: 6 });
      await t.sending.startPost(postId);
      const rows = await deliveries(t.db.db, postId);
      // What a killed sender leaves behind.
      await t.db.db.updateTable('deliveries').set({ status: 'claimed', claimed_by: 'dead-sender' }).where('id', 'in', [rows[0]!.id, rows[1]!.id]).execute();
      await t.db.db.updateTable('deliveries').set({ status: 'attempting', claimed_by: 'dead-sender' }).where('id', 'in', [rows[2]!.id]).execute();
      await t.sending.recover();
      const counts = await statusCounts(t.db.db, postId);
      assert.deepEqual(counts, { queued: 5, unknown: 1 });
      await t.sending.runOnce();
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 5, unknown: 1 });
      assert.equal(received(smtp, rows[2]!.email), 0);
    });

    it('starts a scheduled post when it is due, and holds one that was missed by more than the allowed lateness', async () => {
      const { t, smtp, postId } = await setup({ readers: 3 });
      const due = t.clock.now() + 10 * MINUTE;
      await t.db.db.updateTable('posts').set({ status: 'scheduled', scheduled_at: due }).where('id', '=', postId).execute();
      await t.sending.runOnce();
      assert.equal((await postStatus(t.db.db, postId)).status, 'scheduled');
      t.clock.set(due);
      await t.sending.runOnce();
      assert.equal((await postStatus(t.db.db, postId)).status, 'sent');
      assert.equal(smtp.messages.length, 3);

      const nl = (await t.db.db.selectFrom('posts').select('newsletter_id').where('id', '=', postId).executeTakeFirstOrThrow()).newsletter_id;
      const late = await makePost(t.db.db, nl, t.clock.now(), { status: 'scheduled', scheduled_at: t.clock.now() - 61 * MINUTE } as never);
      await t.sending.runOnce();
      const held = await postStatus(t.db.db, late);
      assert.equal(held.status, 'scheduled');
      assert.match(held.held_reason ?? '', /scheduled 61 minutes ago/);
      assert.equal((await t.sending.progress(late)).heldReason, held.held_reason);
      await t.sending.runOnce();
      assert.equal(smtp.messages.length, 3, 'a held post waits for the writer');
      await t.sending.resumePost(late);
      await t.sending.runOnce();
      assert.equal((await postStatus(t.db.db, late)).status, 'sent');
      assert.equal((await postStatus(t.db.db, late)).held_reason, null);
      assert.equal(smtp.messages.length, 6);
    });

    it('finishes a big snapshot in the background, and completes one a crash interrupted, adding nobody twice', async () => {
      const { t, smtp, readers, postId } = await setup({ readers: 23 });
      // What a crash half-way through the snapshot leaves: a sending post, part of its audience, no freeze.
      await t.db.db.updateTable('posts').set({ status: 'sending', started_at: t.clock.now() }).where('id', '=', postId).execute();
      await t.db.db
        .insertInto('deliveries')
        .values(readers.slice(0, 7).map((r, i) => ({ post_id: postId, subscriber_id: r.id, email: r.email, message_id: `<early-${i}@example.com>`, updated_at: t.clock.now() })))
        .execute();
      assert.equal((await t.sending.progress(postId)).preparing, true);
      await t.sending.runOnce();
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 23 });
      assert.equal((await postStatus(t.db.db, postId)).status, 'sent');
      for (const r of readers) assert.equal(received(smtp, r.email), 1);

      // A list bigger than startPost waits for: the request returns, the rest is written meanwhile.
      const small = await buildTestApp(dialect, {
        env: { SMTP_URL: smtp.url },
        renderer: testRenderer,
        sending: { options: { ...OPTIONS, snapshotPageSize: 4, snapshotWaitPages: 2 } },
      });
      cleanups.push(() => small.close());
      const nl = await makeNewsletter(small.db.db, small.clock.now());
      await addReaders(small.db.db, nl.id, small.clock.now(), 30);
      const big = await makePost(small.db.db, nl.id, small.clock.now());
      await small.sending.startPost(big);
      // The rest of the snapshot is real background work (not timer-driven): wait for it, briefly.
      for (let i = 0; i < 500 && (await postStatus(small.db.db, big)).audience_frozen_at === null; i++) await new Promise((r) => setTimeout(r, 10));
      assert.notEqual((await postStatus(small.db.db, big)).audience_frozen_at, null);
      // The database made each Message-ID's random part (INSERT … SELECT): one per row, never one per page.
      const ids = (await small.db.db.selectFrom('deliveries').select('message_id').where('post_id', '=', big).execute()).map((r) => r.message_id);
      assert.equal(new Set(ids).size, 30, 'thirty different Message-IDs');
      for (const id of ids) assert.match(id, /^<[0-9a-f]{30,32}@[a-z0-9.-]+>$/);
      await small.sending.runOnce();
      assert.deepEqual(await statusCounts(small.db.db, big), { sent: 30 });
    });

    it('keeps outcomes in memory when a commit fails, and records them on the next pass without re-sending', async () => {
      const { t, smtp, readers, postId } = await setup({ readers: 5, pool: 5 });
      // A database hiccup: the first statement that records sent rows fails, rolling its tick back.
      let failures = 1;
      const flaky = t.db.db.withPlugin({
        transformQuery(args) {
          // Anywhere in the statement: the general tick's update or Postgres's one-statement tick.
          if (failures > 0 && JSON.stringify(args.node).includes("set status = 'sent'")) {
            failures -= 1;
            throw new Error('disk I/O error (simulated)');
          }
          return args.node;
        },
        async transformResult(args) {
          return args.result;
        },
      });
      const engine = createSendingEngine({ db: flaky, dialect, config: t.config, clock: t.clock, renderer: testRenderer, options: OPTIONS });
      cleanups.push(() => engine.stop());
      await engine.startPost(postId);
      await assert.rejects(engine.runOnce(), /disk I\/O error/);
      await smtp.waitFor(5); // the messages in flight when the commit failed still finish
      assert.deepEqual(await statusCounts(t.db.db, postId), { attempting: 5 });
      await engine.runOnce();
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 5 });
      assert.equal(smtp.messages.length, 5, 'nothing was sent twice');
      for (const r of readers) assert.equal(received(smtp, r.email), 1);
    });

    // A timeout: the outcomes and messages in hand when the error surfaced were once dropped, and the next
    // pass then waited forever for an outcome it had lost.
    // A driver rejects with an Error; anything else thrown (even undefined) must surface the same way.
    for (const failure of [{ what: 'an error', value: new Error('connection reset (simulated)') }, { what: 'undefined', value: undefined }]) {
      it(`surfaces a claim that fails mid-send with ${failure.what} (on Postgres it runs beside the ticks), and the next pass sends the rest once`, { timeout: 30_000 }, async () => {
        const { t, smtp, readers, postId } = await setup({ readers: 24, pool: 2 });
        // The second claim fails: by then the first claim's messages are going out.
        let claims = 0;
        const flaky = t.db.sendDb.withPlugin({
          transformQuery(args) {
            if (JSON.stringify(args.node).includes("set status = 'claimed'") && ++claims === 2) throw failure.value;
            return args.node;
          },
          async transformResult(args) {
            return args.result;
          },
        });
        const engine = createSendingEngine({ db: t.db.db, sendDb: flaky, dialect, config: t.config, clock: t.clock, renderer: testRenderer, options: { ...OPTIONS, claimSize: 8 } });
        cleanups.push(() => engine.stop());
        await engine.startPost(postId);
        await assert.rejects(engine.runOnce(), (err) => err === failure.value);
        const counts = await statusCounts(t.db.db, postId);
        assert.ok((counts.sent ?? 0) >= 1 && (counts.sent ?? 0) < 24, `some sent before the failure: ${JSON.stringify(counts)}`);
        await engine.runOnce();
        assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 24 });
        assert.equal(smtp.messages.length, 24, 'nothing was sent twice');
        for (const r of readers) assert.equal(received(smtp, r.email), 1);
      });
    }

    if (dialect === 'postgres') {
      it('gives Postgres fresh statistics after the snapshot, so the send is not planned blind', async () => {
        const { t, postId } = await setup({ readers: 30 });
        const { sql } = await import('kysely');
        const reltuples = async () =>
          Number((await sql<{ n: number }>`select reltuples::float8 as n from pg_class where relname = 'deliveries' and relnamespace = current_schema()::regnamespace`.execute(t.db.db)).rows[0]!.n);
        assert.ok((await reltuples()) <= 0, 'a new table has no statistics yet');
        await t.sending.startPost(postId);
        assert.equal(await reltuples(), 30);
      });
    }

    it("keeps each recipient's own answer from the relay (its queue id)", async () => {
      const { t, smtp, postId } = await setup({ readers: 7, pool: 3 });
      smtp.respond.onData = (_raw, envelope) => reply(250, `2.0.0 Ok: queued as Q-${envelope.to[0]}`);
      await t.sending.startPost(postId);
      await t.sending.runOnce();
      const rows = await deliveries(t.db.db, postId);
      assert.equal(rows.length, 7);
      for (const r of rows) {
        assert.equal(r.status, 'sent');
        assert.match(r.response ?? '', new RegExp(`queued as Q-${r.email.replace(/[.+]/g, '\\$&')}$`));
      }
    });

    it('paces the send to SEND_RATE messages per second', async () => {
      const { t, postId } = await setup({ readers: 12, pool: 4, env: { SEND_RATE: '20' } });
      await t.sending.startPost(postId);
      const started = performance.now();
      await t.sending.runOnce();
      const seconds = (performance.now() - started) / 1000;
      assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 12 });
      // 12 messages at 20/s: at least ~0.5 s after the first token.
      assert.ok(seconds >= 0.45, `took ${seconds.toFixed(2)} s`);
    });
  });

  describe(`sending without a relay (${dialect})`, () => {
    it('keeps bulk mail in the dev outbox, byte for byte what a relay would get', async () => {
      const t = await buildTestApp(dialect, { renderer: testRenderer });
      try {
        const nl = await makeNewsletter(t.db.db, t.clock.now());
        const readers = await addReaders(t.db.db, nl.id, t.clock.now(), 4);
        const postId = await makePost(t.db.db, nl.id, t.clock.now(), { subject: 'Into the outbox' });
        await t.sending.startPost(postId);
        await t.sending.runOnce();
        assert.deepEqual(await statusCounts(t.db.db, postId), { sent: 4 });
        const stored = await t.db.db.selectFrom('dev_outbox').selectAll().orderBy('id').execute();
        assert.equal(stored.length, 4);
        assert.deepEqual(stored.map((s) => s.to_address).sort(), readers.map((r) => r.email).sort());
        assert.ok(stored.every((s) => s.subject === 'Into the outbox'));
        assert.match(stored[0]!.raw, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m);
        const rows = await deliveries(t.db.db, postId);
        assert.ok(rows.every((r) => /dev outbox/.test(r.response ?? '')));
      } finally {
        await t.close();
      }
    });
  });
}
