import type { DbOrTx } from '../db/database.js';
import type { DevOutboxRow, NewDevOutboxRow } from '../db/tables/dev-outbox.js';

/** The dev outbox's SQL (src/sending/dev-outbox.ts is the one object that uses it). */

export async function insertDevMessage(db: DbOrTx, row: NewDevOutboxRow): Promise<void> {
  await db.insertInto('dev_outbox').values(row).execute();
}

export async function listDevMessages(db: DbOrTx, limit: number, beforeId?: number): Promise<DevOutboxRow[]> {
  let q = db.selectFrom('dev_outbox').selectAll().orderBy('id', 'desc').limit(limit);
  if (beforeId !== undefined) q = q.where('id', '<', beforeId);
  return q.execute();
}

export async function findDevMessage(db: DbOrTx, id: number): Promise<DevOutboxRow | undefined> {
  return db.selectFrom('dev_outbox').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function clearDevMessages(db: DbOrTx): Promise<void> {
  await db.deleteFrom('dev_outbox').execute();
}
