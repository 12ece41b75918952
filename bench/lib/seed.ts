import { randomBytes } from 'node:crypto';
import type { Db } from '../../src/db/database.js';
import { emailHash } from '../../src/domain/suppressions.js';

/**
 * Seeds a benchmark database fast: N subscribers with active subscriptions to one newsletter, in
 * multi-row inserts inside transactions of `chunk` rows. Addresses are `reader-<i>@bench.example`.
 */
export async function seedSubscribers(db: Db, newsletterId: number, count: number, options: { chunk?: number; now?: number } = {}): Promise<void> {
  const chunk = options.chunk ?? 500;
  const now = options.now ?? Date.now();
  for (let start = 0; start < count; start += chunk * 10) {
    await db.transaction().execute(async (trx) => {
      for (let base = start; base < Math.min(count, start + chunk * 10); base += chunk) {
        const size = Math.min(chunk, count - base);
        const subscribers = Array.from({ length: size }, (_, k) => {
          const i = base + k;
          const email = `reader-${i}@bench.example`;
          return {
            email,
            email_hash: emailHash(email),
            name: i % 3 === 0 ? '' : `Reader ${i}`,
            token: randomBytes(24).toString('base64url'),
            source: 'import',
            attributes: i % 5 === 0 ? '{"city":"Lyon"}' : '{}',
            ip: null,
            created_at: now - (count - i) * 1000,
            updated_at: now,
          };
        });
        const ids = await trx.insertInto('subscribers').values(subscribers).returning('id').execute();
        await trx
          .insertInto('subscriptions')
          .values(ids.map(({ id }) => ({ subscriber_id: id, newsletter_id: newsletterId, status: 'active' as const, source: 'import', consent_ip: null, confirm_sent_at: null, created_at: now, confirmed_at: now, unsubscribed_at: null, updated_at: now })))
          .execute();
      }
    });
  }
}

export async function createBenchNewsletter(db: Db, now = Date.now()): Promise<number> {
  const row = await db
    .insertInto('newsletters')
    .values({ slug: 'bench', name: 'Bench Weekly', from_name: 'Bench Writer', from_email: 'writer@bench.example', reply_to: null, default_lock: 1, created_at: now, updated_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}
