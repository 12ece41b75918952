import type { DbOrTx } from '../../db/database.js';
import type { UserRow } from '../../db/tables/users.js';
import type { Clock } from '../../lib/clock.js';
import { constantTimeEqual, randomToken, sha256Hex } from '../../lib/tokens.js';
import * as repo from './repository.js';

/**
 * Sessions in the style Lucia documents: the cookie holds `id.secret`; the database holds the id and
 * only a SHA-256 of the 256-bit secret, so a leaked database cannot be replayed as cookies.
 */

export const SESSION_IDLE_TIMEOUT_MS = 10 * 24 * 60 * 60 * 1000;
/** The sliding expiry is written back at most this often, so most requests do not write. */
export const SESSION_REFRESH_INTERVAL_MS = 60 * 60 * 1000;

export interface ValidSession {
  id: string;
  user: UserRow;
  expiresAt: number;
  /** True when this request moved the expiry forward (the cookie should be re-sent). */
  refreshed: boolean;
}

export async function createSession(db: DbOrTx, clock: Clock, userId: number): Promise<{ token: string; expiresAt: number }> {
  const id = randomToken(15);
  const secret = randomToken(32);
  const now = clock.now();
  await repo.insertSession(db, { id, user_id: userId, secret_hash: sha256Hex(secret), created_at: now, last_verified_at: now });
  return { token: `${id}.${secret}`, expiresAt: now + SESSION_IDLE_TIMEOUT_MS };
}

export async function validateSessionToken(db: DbOrTx, clock: Clock, token: string): Promise<ValidSession | undefined> {
  // Both halves are base64url (see createSession): anything else is not ours and must not reach a query.
  if (token.length > 200 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const dot = token.indexOf('.');
  const id = token.slice(0, dot);
  const secret = token.slice(dot + 1);
  const session = await repo.findSession(db, id);
  if (!session) return undefined;
  if (!constantTimeEqual(session.secret_hash, sha256Hex(secret))) return undefined;
  const now = clock.now();
  if (now - session.last_verified_at >= SESSION_IDLE_TIMEOUT_MS) {
    await repo.deleteSession(db, id);
    return undefined;
  }
  const user = await repo.findUserById(db, session.user_id);
  if (!user) return undefined;
  let lastVerified = session.last_verified_at;
  const refreshed = now - lastVerified >= SESSION_REFRESH_INTERVAL_MS;
  if (refreshed) {
    await repo.touchSession(db, id, now);
    lastVerified = now;
  }
  return { id, user, expiresAt: lastVerified + SESSION_IDLE_TIMEOUT_MS, refreshed };
}

export const invalidateSession = (db: DbOrTx, id: string) => repo.deleteSession(db, id);
export const invalidateAllSessions = (db: DbOrTx, userId: number) => repo.deleteUserSessions(db, userId);
