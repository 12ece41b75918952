import type { DbOrTx } from '../../db/database.js';
import type { SessionRow } from '../../db/tables/sessions.js';
import type { UserRow } from '../../db/tables/users.js';

export async function ownerExists(db: DbOrTx): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').where('owner_lock', '=', 1).executeTakeFirst();
  return row !== undefined;
}

export async function findUserByEmail(db: DbOrTx, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function findUserById(db: DbOrTx, id: number): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Inserts the owner; the unique owner_lock makes a second, racing insert fail instead of creating two. */
export async function insertOwner(
  db: DbOrTx,
  u: { email: string; name: string; passwordHash: string; at: number },
): Promise<number> {
  const row = await db
    .insertInto('users')
    .values({ email: u.email, name: u.name, password_hash: u.passwordHash, owner_lock: 1, created_at: u.at, updated_at: u.at })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function updatePasswordHash(db: DbOrTx, userId: number, passwordHash: string, at: number): Promise<void> {
  await db.updateTable('users').set({ password_hash: passwordHash, updated_at: at }).where('id', '=', userId).execute();
}

export async function insertSession(db: DbOrTx, s: SessionRow): Promise<void> {
  await db.insertInto('sessions').values(s).execute();
}

export async function findSession(db: DbOrTx, id: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function touchSession(db: DbOrTx, id: string, at: number): Promise<void> {
  await db.updateTable('sessions').set({ last_verified_at: at }).where('id', '=', id).execute();
}

export async function deleteSession(db: DbOrTx, id: string): Promise<void> {
  await db.deleteFrom('sessions').where('id', '=', id).execute();
}

export async function deleteUserSessions(db: DbOrTx, userId: number): Promise<void> {
  await db.deleteFrom('sessions').where('user_id', '=', userId).execute();
}

export async function deleteSessionsIdleSince(db: DbOrTx, before: number): Promise<void> {
  await db.deleteFrom('sessions').where('last_verified_at', '<', before).execute();
}
