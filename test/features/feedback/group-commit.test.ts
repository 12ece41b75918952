import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AMAZON_SNS } from '../../../src/features/feedback/webhooks/sns-certificates.js';
import { createWebhookReceiver } from '../../../src/features/feedback/webhooks/receiver.js';
import { createFeedbackService } from '../../../src/features/feedback/service.js';
import { TEST_SECRET } from '../../helpers/app.js';
import { FakeClock } from '../../helpers/clock.js';
import { createTestDb, DIALECTS } from '../../helpers/db.js';
import { MAILGUN_KEY, mailgunCall } from './relays.js';

/**
 * A flood of webhook calls shares commits. Calls reach the receiver from separate event-loop callbacks
 * (one per socket read); on SQLite a transaction never yields to the event loop, so unless the first call
 * lets the others of that turn arrive, each call commits (and fsyncs) alone.
 */
for (const dialect of DIALECTS) {
  describe(`bounce webhook group commit (${dialect})`, () => {
    it('records the calls that arrive in one event-loop turn in one transaction, each event once', async () => {
      const t = await createTestDb(dialect);
      const clock = new FakeClock();
      try {
        const feedback = createFeedbackService({ db: t.db, clock, secretKey: TEST_SECRET });
        const batches: number[] = [];
        const sink = { recordEach: (reports: Parameters<typeof feedback.recordEach>[0]) => (batches.push(reports.length), feedback.recordEach(reports)) };
        const config = { sesTopicArns: [], postmarkSecret: undefined, mailgunSigningKey: MAILGUN_KEY, sendgridPublicKey: undefined, brevoSecret: undefined, resendSecret: undefined, ratePerSecond: 1000 };
        const receiver = createWebhookReceiver({ config, clock, sink, snsTrust: AMAZON_SNS });
        const calls = Array.from({ length: 20 }, (_, i) => mailgunCall(`gone-${i}@example.org`, `<m${i}@example.org>`, clock.now()));
        // Every third a relay's retry of the call before it.
        for (let i = 2; i < calls.length; i += 3) calls[i] = calls[i - 1]!;
        const receipts = await Promise.all(
          calls.map(
            (c) =>
              new Promise<Awaited<ReturnType<typeof receiver.receive>>>((resolve, reject) =>
                setImmediate(() => receiver.receive('mailgun', { rawBody: Buffer.from(c.payload), headers: c.headers, query: {} }).then(resolve, reject)),
              ),
          ),
        );
        assert.deepEqual(batches, [20]);
        assert.equal(receipts.reduce((n, r) => n + r.stored, 0), 14);
        assert.equal(receipts.reduce((n, r) => n + r.duplicates, 0), 6);
        const stored = await t.db.selectFrom('feedback_reports').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
        assert.equal(Number(stored.n), 14);
        const suppressed = await t.db.selectFrom('suppressions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
        assert.equal(Number(suppressed.n), 14);
      } finally {
        await t.drop();
      }
    });
  });
}
