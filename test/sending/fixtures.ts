import { generateKeyPairSync } from 'node:crypto';
import type { Db } from '../../src/db/database.js';
import type { NewsletterRow } from '../../src/db/tables/newsletters.js';
import type { PostRow } from '../../src/db/tables/posts.js';
import { randomToken, sha256Hex } from '../../src/lib/tokens.js';
import type { PostContentRenderer } from '../../src/sending/content.js';

/** Data for the sending tests, made in code: a newsletter, its subscribers and a post. */

let counter = 0;

export async function makeNewsletter(db: Db, now: number, extra: Partial<NewsletterRow> = {}): Promise<NewsletterRow> {
  const n = ++counter;
  const row = await db
    .insertInto('newsletters')
    .values({
      slug: `letter-${n}`,
      name: `Letter ${n}`,
      from_name: 'Olive Owner',
      from_email: 'news@example.com',
      created_at: now,
      updated_at: now,
      ...extra,
    } as never)
    .returning('id')
    .executeTakeFirstOrThrow();
  return db.selectFrom('newsletters').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow();
}

export interface Reader {
  id: number;
  email: string;
  name: string;
  token: string;
}

/** `count` active subscribers named reader-<i>@example.com (inserted in bulk). */
export async function addReaders(
  db: Db,
  newsletterId: number,
  now: number,
  count: number,
  opts: { prefix?: string; domain?: string; name?: (i: number) => string } = {},
): Promise<Reader[]> {
  const out: Reader[] = [];
  const prefix = opts.prefix ?? `r${++counter}-`;
  for (let start = 0; start < count; start += 500) {
    const rows = Array.from({ length: Math.min(500, count - start) }, (_, k) => {
      const i = start + k;
      const email = `${prefix}${i}@${opts.domain ?? 'example.com'}`;
      return { email, email_hash: sha256Hex(email), name: opts.name?.(i) ?? `Reader ${i}`, token: randomToken(), created_at: now, updated_at: now };
    });
    const inserted = await db.insertInto('subscribers').values(rows).returning(['id', 'email', 'name', 'token']).execute();
    await db
      .insertInto('subscriptions')
      .values(inserted.map((s) => ({ subscriber_id: s.id, newsletter_id: newsletterId, status: 'active' as const, source: 'admin', created_at: now, updated_at: now })))
      .execute();
    out.push(...inserted);
  }
  return out;
}

export async function makePost(db: Db, newsletterId: number, now: number, extra: Partial<PostRow> = {}): Promise<number> {
  const n = ++counter;
  const row = await db
    .insertInto('posts')
    .values({ newsletter_id: newsletterId, slug: `post-${n}`, subject: `Post ${n}`, body: `Body of post ${n}.`, created_at: now, updated_at: now, ...extra } as never)
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** A tiny renderer: enough HTML and text to carry merge fields, long lines and non-ASCII text. */
export const testRenderer: PostContentRenderer = async (post) => ({
  subject: post.subject,
  html:
    `<!doctype html><html><body><p>Hello {{ subscriber.name | default: "friend" }},</p><p>${post.body}</p>` +
    `<p><a href="{{ web_url }}">Read on the web</a> · <a href="{{ preferences_url }}">Preferences</a> · ` +
    `<a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>`,
  text: `Hello {{ subscriber.name | default: "friend" }},\n\n${post.body}\n\nUnsubscribe: {{ unsubscribe_url }}\n`,
});

export function dkimKeys(type: 'rsa' | 'ed25519' = 'rsa'): { privateKey: string; publicKey: string } {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
      : generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  return { privateKey: pair.privateKey, publicKey: pair.publicKey };
}

export async function deliveries(db: Db, postId: number) {
  return db.selectFrom('deliveries').selectAll().where('post_id', '=', postId).orderBy('id').execute();
}

export async function statusCounts(db: Db, postId: number): Promise<Record<string, number>> {
  const rows = await db.selectFrom('deliveries').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).where('post_id', '=', postId).groupBy('status').execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

export async function postStatus(db: Db, postId: number) {
  return db.selectFrom('posts').select(['status', 'paused_reason', 'resume_at', 'held_reason', 'sent_at', 'audience_frozen_at']).where('id', '=', postId).executeTakeFirstOrThrow();
}
