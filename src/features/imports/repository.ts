import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { ImportRow } from '../../db/tables/imports.js';
import { bulkRows } from './bulk-rows.js';

export type ImportMode = 'confirmed' | 'send_confirmation';

export interface ImportCounts {
  total_rows: number;
  created_count: number;
  updated_count: number;
  skipped_count: number;
  invalid_count: number;
  duplicate_count: number;
}

export interface Problem {
  line: number;
  email: string;
  reason: string;
}

export async function insertImport(
  db: DbOrTx,
  row: { publicId: string; newsletterId: number; filename: string; mode: ImportMode; tags: string; fileSize: number; at: number },
): Promise<number> {
  const inserted = await db
    .insertInto('imports')
    .values({
      public_id: row.publicId,
      newsletter_id: row.newsletterId,
      filename: row.filename,
      mode: row.mode,
      tags: row.tags,
      status: 'running',
      file_size: row.fileSize,
      heartbeat_at: row.at,
      error: null,
      created_at: row.at,
      finished_at: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return inserted.id;
}

export async function findImportByPublicId(db: DbOrTx, publicId: string): Promise<ImportRow | undefined> {
  return db.selectFrom('imports').selectAll().where('public_id', '=', publicId).executeTakeFirst();
}

export async function findImport(db: DbOrTx, id: number): Promise<ImportRow | undefined> {
  return db.selectFrom('imports').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listRecentImports(db: DbOrTx, limit: number) {
  return db
    .selectFrom('imports as i')
    .innerJoin('newsletters as n', 'n.id', 'i.newsletter_id')
    .select(['i.public_id', 'i.filename', 'i.status', 'i.created_at', 'i.total_rows', 'i.created_count', 'i.skipped_count', 'n.name as newsletter_name'])
    .orderBy('i.created_at', 'desc')
    .orderBy('i.id', 'desc')
    .limit(limit)
    .execute();
}

/** Adds one batch's counts and progress; runs in the batch's own transaction, so they never disagree. */
export async function addProgress(db: DbOrTx, id: number, delta: ImportCounts, bytesRead: number, at: number): Promise<void> {
  await db
    .updateTable('imports')
    .set({
      total_rows: sql`total_rows + ${delta.total_rows}`,
      created_count: sql`created_count + ${delta.created_count}`,
      updated_count: sql`updated_count + ${delta.updated_count}`,
      skipped_count: sql`skipped_count + ${delta.skipped_count}`,
      invalid_count: sql`invalid_count + ${delta.invalid_count}`,
      duplicate_count: sql`duplicate_count + ${delta.duplicate_count}`,
      bytes_read: bytesRead,
      heartbeat_at: at,
    })
    .where('id', '=', id)
    .execute();
}

/** The whole file has been read: the progress bar ends at its size. */
export async function setBytesRead(db: DbOrTx, id: number, bytesRead: number): Promise<void> {
  await db.updateTable('imports').set({ bytes_read: bytesRead }).where('id', '=', id).execute();
}

/** Ends a running import; the condition makes a late second finish (or a stale-marking) harmless. */
export async function finishImport(db: DbOrTx, id: number, outcome: { status: 'done' | 'failed'; error: string | null; at: number }): Promise<boolean> {
  const result = await db
    .updateTable('imports')
    .set({ status: outcome.status, error: outcome.error, finished_at: outcome.at, heartbeat_at: outcome.at })
    .where('id', '=', id)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function insertProblems(db: DbOrTx, importId: number, problems: Problem[]): Promise<void> {
  if (problems.length === 0) return;
  const rows = bulkRows(db, { line: 'bigint', email: 'text', reason: 'text' }, problems.map((p) => [p.line, p.email.slice(0, 320), p.reason]));
  await sql`insert into import_problems (import_id, line, email, reason) select cast(${importId} as integer), v.line, v.email, v.reason from ${rows}`.execute(db);
}

/** One keyset page of an import's problems in file order, after the (line, id) of the last one read. */
export async function problemsPage(db: DbOrTx, importId: number, after: { line: number; id: number }, limit: number) {
  return db
    .selectFrom('import_problems')
    .select(['id', 'line', 'email', 'reason'])
    .where('import_id', '=', importId)
    .where((eb) => eb(eb.refTuple('line', 'id'), '>', eb.tuple(after.line, after.id)))
    .orderBy('line')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** A tag's id by name, ignoring case as tags are matched everywhere. */
export async function findTagIdByName(db: DbOrTx, name: string): Promise<number | undefined> {
  const row = await db.selectFrom('tags').select('id').where(sql`lower(name)`, '=', name.toLowerCase()).orderBy('id').executeTakeFirst();
  return row?.id;
}

/** How many lines an import's report has: rows not imported, and notes on the file and on rows. */
export async function countProblems(db: DbOrTx, importId: number): Promise<number> {
  const row = await db.selectFrom('import_problems').select((eb) => eb.fn.countAll<number>().as('n')).where('import_id', '=', importId).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The first notes on the file as a whole (its encoding, columns left out), which are filed at line 0. */
export async function fileNotes(db: DbOrTx, importId: number, limit: number): Promise<{ reasons: string[]; total: number }> {
  const [rows, count] = await Promise.all([
    db.selectFrom('import_problems').select('reason').where('import_id', '=', importId).where('line', '=', 0).orderBy('id').limit(limit).execute(),
    db.selectFrom('import_problems').select((eb) => eb.fn.countAll<number>().as('n')).where('import_id', '=', importId).where('line', '=', 0).executeTakeFirstOrThrow(),
  ]);
  return { reasons: rows.map((r) => r.reason), total: Number(count.n) };
}
