/**
 * Subscribers admin at 100,000 subscribers: times the list page's queries (the page, the status counts and
 * the per-row extras, as the route runs them) for a first page, a search, filtered pages and deep pages;
 * a full streamed export; and a 100,000-row CSV import (time and peak RSS, in a child process of its own
 * so seeding does not inflate the figure).
 *
 *   npx tsx bench/subscribers-list.ts                  # SQLite (temp file)
 *   TEST_DATABASE_URL=postgres://… npx tsx bench/subscribers-list.ts   # and Postgres (temp schema)
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import { connectDatabase, type DbHandle } from '../src/db/connect.js';
import type { Db, Dialect } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import type { NewsletterRow } from '../src/db/tables/newsletters.js';
import { runImport } from '../src/features/imports/runner.js';
import { exportCsv } from '../src/features/subscribers/export.js';
import { parseFilter, type SubscriberFilter } from '../src/features/subscribers/filters.js';
import { countByStatus, listSubscribersPage, pageExtras, type PageRequest } from '../src/features/subscribers/list-repository.js';
import { emailHash } from '../src/domain/suppressions.js';

const N = 100_000;
const RUNS = 15;
const PAGE = 50;

async function open(dialect: Dialect, dir: string): Promise<DbHandle & { cleanup(): Promise<void> }> {
  if (dialect === 'sqlite') {
    const handle = await connectDatabase({ kind: 'sqlite', file: path.join(dir, 'bench.db') });
    return { ...handle, cleanup: () => handle.close() };
  }
  const url = process.env.TEST_DATABASE_URL!;
  const schema = process.env.BENCH_SCHEMA ?? `bench_${randomBytes(4).toString('hex')}`;
  if (!process.env.BENCH_SCHEMA) {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
  }
  const handle = await connectDatabase({ kind: 'postgres', url }, { searchPath: schema });
  return {
    ...handle,
    async cleanup() {
      await handle.close();
      if (process.env.BENCH_SCHEMA) return;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`drop schema ${schema} cascade`);
      await admin.end();
    },
    schema,
  } as DbHandle & { cleanup(): Promise<void>; schema: string };
}

const FIRST = ['Ada', 'Alan', 'Grace', 'Linus', 'Margaret', 'Dennis', 'Barbara', 'Ken', 'Frances', 'John', 'Radia', 'Edsger'];
const LAST = ['Lovelace', 'Turing', 'Hopper', 'Torvalds', 'Hamilton', 'Ritchie', 'Liskov', 'Thompson', 'Allen', 'Smith', 'Perlman', 'Dijkstra'];

async function seed(db: Db): Promise<{ weekly: number; daily: number; vip: number; customer: number }> {
  const at = Date.UTC(2026, 0, 1);
  const nl = async (slug: string) =>
    (await db.insertInto('newsletters').values({ slug, name: slug, from_email: 'w@example.com', reply_to: null, default_lock: null, created_at: at, updated_at: at }).returning('id').executeTakeFirstOrThrow()).id;
  const weekly = await nl('weekly');
  const daily = await nl('daily');
  const tag = async (name: string) => (await db.insertInto('tags').values({ name, created_at: at }).returning('id').executeTakeFirstOrThrow()).id;
  const vip = await tag('vip');
  const customer = await tag('customer');
  for (const name of ['a', 'b', 'c']) await tag(name);

  const CHUNK = 1000;
  for (let start = 0; start < N; start += CHUNK) {
    await db.transaction().execute(async (trx) => {
      const subscribers = [];
      for (let i = start; i < start + CHUNK; i++) {
        const email = `reader${String(i).padStart(6, '0')}@example${i % 97}.com`;
        subscribers.push({
          email,
          email_hash: emailHash(email),
          name: `${FIRST[i % FIRST.length]} ${LAST[(i * 7) % LAST.length]}`,
          attributes: i % 3 === 0 ? JSON.stringify({ plan: i % 2 ? 'pro' : 'free' }) : '{}',
          token: randomBytes(16).toString('base64url'),
          source: 'import',
          ip: null,
          // Imports create many rows in one millisecond: ties on created_at are the normal case.
          created_at: at + Math.floor(i / 10) * 1000,
          updated_at: at,
        });
      }
      const ids = (await trx.insertInto('subscribers').values(subscribers).returning('id').execute()).map((r) => r.id);
      const subs = [];
      const tags = [];
      for (const [k, id] of ids.entries()) {
        const i = start + k;
        const status = i % 20 === 0 ? 'unsubscribed' : i % 20 === 1 ? 'pending' : 'active';
        subs.push({ subscriber_id: id, newsletter_id: weekly, status, source: 'import', consent_ip: null, confirm_sent_at: null, created_at: at, confirmed_at: at, unsubscribed_at: null, updated_at: at } as const);
        if (i % 3 === 0) subs.push({ subscriber_id: id, newsletter_id: daily, status: 'active', source: 'import', consent_ip: null, confirm_sent_at: null, created_at: at, confirmed_at: at, unsubscribed_at: null, updated_at: at } as const);
        if (i % 100 === 0) tags.push({ subscriber_id: id, tag_id: vip });
        if (i % 5 === 0) tags.push({ subscriber_id: id, tag_id: customer });
      }
      await trx.insertInto('subscriptions').values(subs).execute();
      if (tags.length) await trx.insertInto('subscriber_tags').values(tags).execute();
    });
  }
  return { weekly, daily, vip, customer };
}

/** What GET /admin/subscribers runs, minus rendering. */
async function listPage(db: Db, filter: SubscriberFilter, page: PageRequest | null) {
  const [result] = await Promise.all([listSubscribersPage(db, filter, page, PAGE), countByStatus(db, filter)]);
  await pageExtras(db, result.rows.map((r) => r.id));
  return result;
}

async function time(label: string, fn: () => Promise<unknown>, runs = RUNS): Promise<string> {
  for (let i = 0; i < 2; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  const median = ms[Math.floor(ms.length / 2)]!;
  const p95 = ms[Math.min(ms.length - 1, Math.ceil(ms.length * 0.95) - 1)]!;
  return `  ${label.padEnd(58)} median ${median.toFixed(1).padStart(7)} ms   p95 ${p95.toFixed(1).padStart(7)} ms`;
}

async function benchList(dialect: Dialect): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-bench-'));
  const handle = await open(dialect, dir);
  const db = handle.db;
  try {
    await migrateToLatest(db);
    const t0 = Date.now();
    const ids = await seed(db);
    // Postgres's autovacuum analyzes a table after bulk changes like these within a minute or so;
    // do it now rather than time plans made without statistics. SQLite gets none (nobody runs ANALYZE).
    if (dialect === 'postgres') await sql`analyze`.execute(db);
    console.log(`\n${dialect}: seeded ${N.toLocaleString('en')} subscribers (+ subscriptions, tags) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const f = (q: Record<string, string>) => parseFilter(q);
    const keyAt = async (filter: SubscriberFilter, offset: number): Promise<PageRequest> => {
      // Bench only: find a deep position with OFFSET, then page from it by key like the app does.
      const row = await db.selectFrom('subscribers').select(['id', 'email', 'created_at']).orderBy(filter.sort === 'email' ? 'email' : 'created_at', filter.sort === 'newest' ? 'desc' : 'asc').orderBy('id', filter.sort === 'newest' ? 'desc' : 'asc').limit(1).offset(offset).executeTakeFirstOrThrow();
      return { direction: 'after', key: filter.sort === 'email' ? { email: row.email } : { created_at: row.created_at, id: row.id } };
    };
    const lines: string[] = [];
    const all = f({});
    lines.push(await time('first page, no filter (newest)', () => listPage(db, all, null)));
    const deep = await keyAt(all, 90_000);
    lines.push(await time('deep page at row 90,000 (newest)', () => listPage(db, all, deep)));
    const byEmail = f({ sort: 'email' });
    lines.push(await time('first page, email A–Z', () => listPage(db, byEmail, null)));
    const deepEmail = await keyAt(byEmail, 90_000);
    lines.push(await time('deep page at row 90,000 (email A–Z)', () => listPage(db, byEmail, deepEmail)));
    lines.push(await time('previous page from row 90,000 (newest)', () => listPage(db, all, { ...deep, direction: 'before' })));
    lines.push(await time('page query alone, deep page (newest)', () => listSubscribersPage(db, all, deep, PAGE)));
    lines.push(await time('search "turing" (name, ~8,300 hits)', () => listPage(db, f({ q: 'turing' }), null)));
    lines.push(await time('search "reader099999" (one hit)', () => listPage(db, f({ q: 'reader099999' }), null)));
    lines.push(await time('search with no hit', () => listPage(db, f({ q: 'nobody-here' }), null)));
    lines.push(await time('newsletter + status unsubscribed (5%)', () => listPage(db, f({ newsletter: String(ids.weekly), status: 'unsubscribed' }), null)));
    lines.push(await time('newsletter daily + status active (33%)', () => listPage(db, f({ newsletter: String(ids.daily), status: 'active' }), null)));
    lines.push(await time('tag vip (1%)', () => listPage(db, f({ tag: String(ids.vip) }), null)));
    lines.push(await time('tag customer + status pending + search "smith"', () => listPage(db, f({ tag: String(ids.customer), status: 'pending', q: 'smith' }), null)));
    lines.push(await time('status counts alone, no filter', () => countByStatus(db, all)));
    lines.push(await time('status counts alone, search "turing"', () => countByStatus(db, f({ q: 'turing' }))));
    lines.push(await time('page query alone, search "turing"', () => listSubscribersPage(db, f({ q: 'turing' }), null, PAGE)));
    lines.push(
      await time(
        'export of all 100,000 rows (streamed CSV)',
        async () => {
          let bytes = 0;
          for await (const chunk of exportCsv(db, all)) bytes += chunk.length;
          return bytes;
        },
        3,
      ),
    );
    console.log(lines.join('\n'));
  } finally {
    await handle.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Child mode: import a generated 100,000-row file and print time and peak RSS as JSON. */
async function importOnly(dialect: Dialect): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-bench-import-'));
  const handle = await open(dialect, dir);
  try {
    await migrateToLatest(handle.db);
    const file = path.join(dir, 'list.csv');
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(file);
      out.on('error', reject);
      out.write('Email Address,First Name,Last Name,City,Company,TAGS\n');
      for (let i = 0; i < N; i++) out.write(`person${i}@example${i % 113}.org,First${i},Last${i},City ${i % 50},Company ${i % 700},"""imported"""\n`);
      out.end(resolve);
    });
    const at = Date.UTC(2026, 0, 1);
    const id = (await handle.db.insertInto('newsletters').values({ slug: 'n', name: 'n', from_email: 'w@example.com', reply_to: null, default_lock: null, created_at: at, updated_at: at }).returning('id').executeTakeFirstOrThrow()).id;
    const newsletter = (await handle.db.selectFrom('newsletters').selectAll().where('id', '=', id).executeTakeFirstOrThrow()) as NewsletterRow;
    const importId = (await handle.db.insertInto('imports').values({ public_id: 'bench', newsletter_id: id, filename: 'list.csv', mode: 'confirmed', status: 'running', error: null, created_at: at, finished_at: null, heartbeat_at: at }).returning('id').executeTakeFirstOrThrow()).id;
    const before = process.memoryUsage().rss;
    const t0 = process.hrtime.bigint();
    await runImport({ db: handle.db, clock: { now: () => Date.now() } }, { importId, publicId: 'bench', newsletter, mode: 'confirmed', tags: ['bench'], filePath: file });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const row = await handle.db.selectFrom('imports').selectAll().where('id', '=', importId).executeTakeFirstOrThrow();
    const second = await handle.db.selectFrom('subscribers').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    console.log(JSON.stringify({ seconds, status: row.status, created: row.created_count, subscribers: Number(second.n), rssBeforeMb: before / 2 ** 20, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
  } finally {
    await handle.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

function benchImport(dialect: Dialect): void {
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, ['--import', 'tsx', self, '--import-only', dialect], { encoding: 'utf8', env: process.env });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  try {
    const r = JSON.parse(line) as { seconds: number; status: string; created: number; rssBeforeMb: number; peakRssMb: number };
    console.log(
      `  ${'import of a 100,000-row CSV (batches of 500)'.padEnd(58)} ${r.seconds.toFixed(1)} s (${Math.round(N / r.seconds).toLocaleString('en')} rows/s), ` +
        `${r.status}, ${r.created.toLocaleString('en')} created; RSS ${r.rssBeforeMb.toFixed(0)} MB before, peak ${r.peakRssMb.toFixed(0)} MB`,
    );
  } catch {
    console.log(`  import bench failed:\n${child.stdout}\n${child.stderr}`);
  }
}

const args = process.argv.slice(2);
if (args[0] === '--import-only') {
  await importOnly(args[1] as Dialect);
} else {
  const dialects: Dialect[] = process.env.TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
  console.log(`Subscribers admin at ${N.toLocaleString('en')} subscribers: ${os.cpus()[0]?.model ?? 'cpu'} ×${os.availableParallelism()}, Node ${process.version}`);
  for (const dialect of dialects) {
    await benchList(dialect);
    benchImport(dialect);
  }
}
