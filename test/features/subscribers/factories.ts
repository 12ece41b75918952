import type { Db } from '../../../src/db/database.js';
import type { SubscriptionStatus } from '../../../src/db/tables/subscribers.js';
import { emailHash } from '../../../src/domain/suppressions.js';
import { randomToken } from '../../../src/lib/tokens.js';
import { TEST_BASE_URL, type Agent } from '../../helpers/app.js';

let counter = 0;

export async function firstNewsletterId(db: Db): Promise<number> {
  return (await db.selectFrom('newsletters').select('id').orderBy('id').executeTakeFirstOrThrow()).id;
}

export async function makeNewsletter(db: Db, slug: string): Promise<number> {
  const now = Date.UTC(2026, 0, 1);
  const row = await db
    .insertInto('newsletters')
    .values({ slug, name: `News ${slug}`, from_email: 'writer@example.com', created_at: now, updated_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface SubscriberSpec {
  email?: string;
  name?: string;
  createdAt?: number;
  attributes?: Record<string, unknown>;
  subscriptions?: { newsletterId: number; status: SubscriptionStatus }[];
  tags?: string[];
}

export async function makeSubscriber(db: Db, spec: SubscriberSpec = {}): Promise<number> {
  counter++;
  const email = spec.email ?? `reader${counter}@example.com`;
  const at = spec.createdAt ?? Date.UTC(2026, 0, 1) + counter * 1000;
  const { id } = await db
    .insertInto('subscribers')
    .values({
      email,
      email_hash: emailHash(email),
      name: spec.name ?? '',
      attributes: JSON.stringify(spec.attributes ?? {}),
      token: randomToken(16),
      source: 'form',
      ip: null,
      created_at: at,
      updated_at: at,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  for (const s of spec.subscriptions ?? []) {
    await db
      .insertInto('subscriptions')
      .values({
        subscriber_id: id,
        newsletter_id: s.newsletterId,
        status: s.status,
        source: 'form',
        consent_ip: null,
        confirm_sent_at: null,
        created_at: at,
        confirmed_at: s.status === 'active' ? at : null,
        unsubscribed_at: s.status === 'unsubscribed' ? at : null,
        updated_at: at,
      })
      .execute();
  }
  for (const name of spec.tags ?? []) {
    await db.insertInto('tags').values({ name, created_at: at }).onConflict((oc) => oc.column('name').doNothing()).execute();
    const tag = await db.selectFrom('tags').select('id').where('name', '=', name).executeTakeFirstOrThrow();
    await db.insertInto('subscriber_tags').values({ subscriber_id: id, tag_id: tag.id }).execute();
  }
  return id;
}

export async function tagId(db: Db, name: string): Promise<number> {
  return (await db.selectFrom('tags').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id;
}

export async function count(db: Db, table: 'subscribers' | 'subscriptions' | 'subscriber_tags' | 'tags' | 'events' | 'suppressions' | 'import_problems'): Promise<number> {
  const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A multipart/form-data body the way a browser sends the import form. */
export function multipartBody(fields: Record<string, string>, file?: { filename: string; content: string | Buffer; field?: string }) {
  const boundary = `----gazette${randomToken(8)}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  }
  if (file) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.field ?? 'file'}"; filename="${file.filename}"\r\nContent-Type: text/csv\r\n\r\n`));
    parts.push(Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content));
    parts.push(Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Posts the import form as a browser would: multipart body, CSRF token in the action URL. */
export async function uploadCsv(agent: Agent, fields: Record<string, string>, file?: { filename: string; content: string | Buffer }) {
  const { payload, contentType } = multipartBody(fields, file);
  return agent.request('POST', `/admin/subscribers/import?_csrf=${encodeURIComponent(agent.csrfToken ?? '')}`, payload, {
    'content-type': contentType,
    origin: TEST_BASE_URL,
    'sec-fetch-site': 'same-origin',
  });
}

/** Parses our CSV output (RFC 4180, CRLF) back into rows, for assertions. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  const s = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && s[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
