import { statSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { connectDatabase } from '../../src/db/connect.js';
import type { Db, Dialect } from '../../src/db/database.js';
import type { DatabaseConfig } from '../../src/config.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createTestDb } from '../../test/helpers/db.js';
import { hashPassword } from '../../src/lib/passwords.js';
import { parentPid, postgresServerCpuSeconds } from './procs.js';
import { createBenchNewsletter, seedSubscribers } from './seed.js';
import { realisticMarkdown } from './post.js';

export interface BenchDb {
  dialect: Dialect;
  /** What DATABASE_URL a Gazette process uses to reach it. */
  url: string;
  /** The same, as connectDatabase takes it. */
  config: DatabaseConfig;
  db: Db;
  newsletterId: number;
  /** Postgres: CPU seconds its server has spent so far, when it runs on this machine (see procs.ts). */
  serverCpuSeconds?: () => number | undefined;
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}

export const OWNER = { email: 'owner@bench.example', password: 'bench owner passphrase' };

/** A migrated database with a newsletter, an owner account and `subscribers` active readers. */
export async function prepareDb(dialect: Dialect, subscribers: number): Promise<BenchDb> {
  let db: Db;
  let url: string;
  let config: DatabaseConfig;
  let close: () => Promise<void>;
  let sizeBytes: () => Promise<number>;
  let serverCpuSeconds: (() => number | undefined) | undefined;
  if (dialect === 'sqlite') {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gazette-bench-')), 'bench.db');
    const handle = await connectDatabase({ kind: 'sqlite', file });
    await migrateToLatest(handle.db);
    db = handle.db;
    url = `sqlite:${file}`;
    config = { kind: 'sqlite', file };
    close = () => handle.close();
    sizeBytes = async () => ['', '-wal'].reduce((sum, suffix) => {
      try {
        return sum + statSync(file + suffix).size;
      } catch {
        return sum;
      }
    }, 0);
  } else {
    const handle = await createTestDb('postgres');
    db = handle.db;
    url = handle.url!;
    config = { kind: 'postgres', url };
    close = () => handle.drop();
    sizeBytes = async () => {
      const r = await sql<{ bytes: string | number }>`select coalesce(sum(pg_total_relation_size(c.oid)), 0) as bytes
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = current_schema() and c.relkind = 'r'`.execute(db);
      return Number(r.rows[0]?.bytes ?? 0);
    };
    // Only a server on this machine can be measured (its postmaster is this connection's backend's parent).
    const host = new URL(url).hostname;
    if (['127.0.0.1', 'localhost', '::1', '[::1]', ''].includes(host)) {
      const backend = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
      const postmaster = parentPid(Number(backend.rows[0]?.pid));
      if (postmaster !== undefined) serverCpuSeconds = () => postgresServerCpuSeconds(postmaster);
    }
  }
  const now = Date.now();
  const newsletterId = await createBenchNewsletter(db, now);
  await db
    .insertInto('users')
    .values({ email: OWNER.email, name: 'Bench Owner', password_hash: await hashPassword(OWNER.password), owner_lock: 1, created_at: now, updated_at: now })
    .execute();
  await seedSubscribers(db, newsletterId, subscribers, { now });
  // The seed went through this connection's WAL in big transactions; fold it into the database now, or the
  // sending process's first commit would pay for checkpointing all of it (16 s at 1,000,000 subscribers).
  if (dialect === 'sqlite') await sql`pragma wal_checkpoint(TRUNCATE)`.execute(db);
  return { dialect, url, config, db, newsletterId, sizeBytes, close, ...(serverCpuSeconds ? { serverCpuSeconds } : {}) };
}

let postCounter = 0;

export async function createPost(db: Db, newsletterId: number): Promise<number> {
  const now = Date.now();
  postCounter += 1;
  const row = await db
    .insertInto('posts')
    .values({ newsletter_id: newsletterId, slug: `issue-${postCounter}-${now}`, subject: `Issue ${postCounter}: small tools, slow web`, preheader: 'What happened this week', body: realisticMarkdown(), status: 'draft', created_at: now, updated_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}
