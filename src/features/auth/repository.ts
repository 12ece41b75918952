import type { DbOrTx } from '../../db/database.js';
import type { NewPasswordResetRow } from '../../db/tables/password-resets.js';
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

export async function insertPasswordReset(db: DbOrTx, r: NewPasswordResetRow): Promise<void> {
  await db.insertInto('password_resets').values(r).execute();
}

/** The user a reset link belongs to, if the link is unused and unexpired at `now`. */
export async function findUsablePasswordReset(db: DbOrTx, tokenHash: string, now: number): Promise<UserRow | undefined> {
  return db
    .selectFrom('password_resets as r')
    .innerJoin('users as u', 'u.id', 'r.user_id')
    .selectAll('u')
    .where('r.token_hash', '=', tokenHash)
    .where('r.used_at', 'is', null)
    .where('r.expires_at', '>', now)
    .executeTakeFirst();
}

/**
 * Uses a reset link; true for exactly one caller. The conditional update is the lock: of two requests
 * racing with the same link, only one sees a row change.
 */
export async function usePasswordReset(db: DbOrTx, tokenHash: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('password_resets')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Retires every other outstanding link of the user once one has been used. */
export async function retirePasswordResets(db: DbOrTx, userId: number, now: number): Promise<void> {
  await db.updateTable('password_resets').set({ used_at: now }).where('user_id', '=', userId).where('used_at', 'is', null).execute();
}

/** Links past their expiry serve no purpose; they go when a new one is made. */
export async function deleteExpiredPasswordResets(db: DbOrTx, now: number): Promise<void> {
  await db.deleteFrom('password_resets').where('expires_at', '<=', now).execute();
}
