import type { NewsletterRow } from '../../../src/db/tables/newsletters.js';
import type { NewPostRow } from '../../../src/db/tables/posts.js';
import { insertNewsletter } from '../../../src/features/newsletters/repository.js';
import { insertPost } from '../../../src/features/posts/repository.js';
import { randomToken, sha256Hex } from '../../../src/lib/tokens.js';
import type { TestApp } from '../../helpers/app.js';

/** Data for the posts tests, made in code (no fixtures): newsletters, posts, subscribers and tags. */

let counter = 0;
const next = () => ++counter;

export async function makeNewsletter(t: TestApp, extra: Partial<NewsletterRow> = {}): Promise<NewsletterRow> {
  const n = next();
  const now = t.clock.now();
  const id = await insertNewsletter(t.db.db, {
    slug: `letter-${n}`,
    name: `Letter ${n}`,
    description: 'Notes every week.',
    from_name: 'Olive',
    from_email: 'news@example.com',
    postal_address: '1 Main Street\nSpringfield',
    time_zone: 'UTC',
    created_at: now,
    updated_at: now,
    ...extra,
  } as Parameters<typeof insertNewsletter>[1]);
  return t.db.db.selectFrom('newsletters').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

export async function makePost(t: TestApp, newsletterId: number, extra: Partial<NewPostRow> = {}): Promise<number> {
  const n = next();
  const now = t.clock.now();
  return insertPost(t.db.db, {
    newsletter_id: newsletterId,
    slug: `post-${n}`,
    subject: `Post ${n}`,
    body: `Hello {{ subscriber.name | default: "friend" }}, this is post ${n}.`,
    created_at: now,
    updated_at: now,
    ...extra,
  });
}

export async function makeTag(t: TestApp, name: string): Promise<number> {
  const row = await t.db.db.insertInto('tags').values({ name, created_at: t.clock.now() }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

export async function makeSubscriber(
  t: TestApp,
  newsletterId: number,
  opts: { email?: string; status?: 'pending' | 'active' | 'unsubscribed'; tags?: number[] } = {},
): Promise<number> {
  const email = opts.email ?? `reader-${next()}@example.com`;
  const now = t.clock.now();
  const s = await t.db.db
    .insertInto('subscribers')
    .values({ email, email_hash: sha256Hex(email), token: randomToken(), created_at: now, updated_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  await t.db.db
    .insertInto('subscriptions')
    .values({ subscriber_id: s.id, newsletter_id: newsletterId, status: opts.status ?? 'active', source: 'admin', created_at: now, updated_at: now })
    .execute();
  for (const tag of opts.tags ?? []) await t.db.db.insertInto('subscriber_tags').values({ subscriber_id: s.id, tag_id: tag }).execute();
  return s.id;
}

export async function postRow(t: TestApp, id: number) {
  return t.db.db.selectFrom('posts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}
