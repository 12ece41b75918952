import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { STALE_CLAIM_MS } from '../../../src/sending/mail-outbox.js';
import { sha256Hex } from '../../../src/lib/tokens.js';
import { insertConfirmationToken, insertSubscriber, insertSubscription } from '../../../src/features/readers/repository.js';
import { createTestDb, DIALECTS, type TestDb } from '../../helpers/db.js';
import { freePort, startGazette, waitHealthy, type GazetteProcess } from '../../helpers/gazette-process.js';
import { startSmtpServer } from '../../helpers/smtp-server.js';
import { makeNewsletter } from '../../sending/fixtures.js';

/**
 * The real server, killed with SIGKILL while the relay holds the welcome's DATA unanswered: did the relay
 * take it or not? Nobody knows, so the message must never be sent again by itself: not when the server
 * comes back, not when the reader clicks the confirmation link again.
 */
const TOKEN = 'welcome-crash-token-0123456789abcdefghijk';

async function seed(db: TestDb, now: number): Promise<void> {
  const n = await makeNewsletter(db.db, now, { slug: 'crashy', name: 'Crashy News' });
  await db.db.insertInto('welcome_mails').values({ newsletter_id: n.id, enabled: 1, subject: 'Welcome to {{ newsletter.name }}', body: 'Hello!', updated_at: now }).execute();
  const subscriberId = await insertSubscriber(db.db, { email: 'kim@example.com', emailHash: sha256Hex('kim@example.com'), name: 'Kim', token: 'kim-subscriber-token-0123456789abcdefghijk', source: 'form', ip: null, at: now });
  const subscriptionId = await insertSubscription(db.db, { subscriberId, newsletterId: n.id, status: 'pending', source: 'form', ip: null, at: now });
  await insertConfirmationToken(db.db, { hash: sha256Hex(TOKEN), subscriptionId, at: now, expiresAt: now + 86_400_000 });
}

for (const dialect of DIALECTS) {
  describe(`welcome mail and kill -9 (${dialect})`, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-welcome-crash-'));
    const running: GazetteProcess[] = [];
    after(() => {
      for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    it('never resends a welcome whose fate a crash left unknown, and never queues a second one', { timeout: 240_000 }, async () => {
      const db = await createTestDb(dialect, dialect === 'sqlite' ? { sqliteFile: path.join(dir, 'gazette.db') } : {});
      const smtp = await startSmtpServer();
      try {
        await seed(db, Date.now());
        // The first DATA is never answered: the server dies while the relay holds the message.
        const seen: Buffer[] = [];
        let arrived: () => void = () => {};
        const dataArrived = new Promise<void>((resolve) => (arrived = resolve));
        smtp.respond.onData = (raw) => {
          seen.push(raw);
          arrived();
          return seen.length === 1 ? new Promise<undefined>(() => {}) : undefined;
        };
        const port = await freePort();
        const env = { DATABASE_URL: db.url!, SMTP_URL: smtp.url, PORT: String(port), HOST: '127.0.0.1', BASE_URL: `http://127.0.0.1:${port}`, DATA_DIR: dir, LOG_LEVEL: 'silent' };
        const first = startGazette('server', env);
        running.push(first);
        await waitHealthy(first, port);
        const confirm = () => fetch(`http://127.0.0.1:${port}/confirm/${TOKEN}`, { method: 'POST' });
        assert.equal((await confirm()).status, 200);
        await dataArrived;
        first.child.kill('SIGKILL');
        await first.exited;

        const inFlight = await db.db.selectFrom('mail_outbox').select(['id', 'status', 'kind']).execute();
        assert.deepEqual(inFlight.map((r) => [r.kind, r.status]), [['welcome', 'sending']]);
        // Time passes while the server is down: the claim is older than any send could take.
        await db.db.updateTable('mail_outbox').set({ claimed_at: Date.now() - STALE_CLAIM_MS - 60_000 }).execute();

        const second = startGazette('server', env);
        running.push(second);
        await waitHealthy(second, port);
        assert.equal((await confirm()).status, 200, 'the link still says "confirmed"');
        // The restarted server's first outbox pass has run once the row is marked unknown.
        for (let i = 0; i < 100; i++) {
          const row = await db.db.selectFrom('mail_outbox').select('status').executeTakeFirstOrThrow();
          if (row.status === 'unknown') break;
          await new Promise((r) => setTimeout(r, 100));
        }
        second.child.kill('SIGTERM');
        await second.exited;

        const rows = await db.db.selectFrom('mail_outbox').select(['kind', 'status']).execute();
        assert.deepEqual(rows, [{ kind: 'welcome', status: 'unknown' }], 'one welcome, unknown, not sent again');
        assert.equal(seen.length, 1, 'the relay saw the welcome once');
        assert.match(seen[0]!.toString(), /^Subject: Welcome to Crashy News\r$/m);
        assert.equal((await db.db.selectFrom('welcome_sent').selectAll().execute()).length, 1);
      } finally {
        await smtp.close();
        await db.drop();
      }
    });
  });
}
