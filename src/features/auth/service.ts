import type { Transaction } from 'kysely';
import type { Config } from '../../config.js';
import type { Database, Db } from '../../db/database.js';
import type { UserRow } from '../../db/tables/users.js';
import type { Clock } from '../../lib/clock.js';
import { NotFoundError, RateLimitedError, UnauthorizedError, ValidationError } from '../../lib/errors.js';
import { burnPasswordCheck, hashPassword, passwordProblem, verifyPassword } from '../../lib/passwords.js';
import { RateLimiter } from '../../lib/rate-limiter.js';
import { randomToken, sha256Hex } from '../../lib/tokens.js';
import { enqueueMail, type MailOutbox } from '../../sending/mail-outbox.js';
import { passwordResetEmail } from './emails.js';
import * as repo from './repository.js';
import { createSession, invalidateAllSessions } from './sessions.js';

const FIFTEEN_MINUTES = 15 * 60 * 1000;
const HOUR = 60 * 60 * 1000;
export const PASSWORD_RESET_TTL_MS = HOUR;
/** Longer than any link Gazette makes (43 characters); anything longer is not looked up. */
const MAX_RESET_TOKEN_LENGTH = 100;
export const RESET_LINK_INVALID = 'This link has expired or was already used. Ask for a new one below.';

/** Runs inside the setup transaction once the owner exists (the readers feature creates the first newsletter). */
export type OwnerCreatedHook = (trx: Transaction<Database>, owner: { ownerId: number; name: string; email: string }) => Promise<void>;

export type AuthService = ReturnType<typeof createAuthService>;

export interface AuthServiceDeps {
  db: Db;
  clock: Clock;
  config: Pick<Config, 'baseUrl' | 'mailFrom'>;
  /** Reset links are queued in the transaction that makes them and sent after commit. */
  mailOutbox: MailOutbox;
  onOwnerCreated?: OwnerCreatedHook;
}

export function createAuthService(deps: AuthServiceDeps) {
  const { db, clock, config, mailOutbox } = deps;
  // Failures only are counted: per account-and-address (stops guessing one account) and per address
  // (stops spraying many accounts). No hard lock-out an attacker could trigger against the owner.
  const perAccount = new RateLimiter(clock, 5, FIFTEEN_MINUTES);
  const perIp = new RateLimiter(clock, 30, FIFTEEN_MINUTES);
  // Reset requests mail someone: per address so one inbox cannot be flooded, per IP against spraying.
  const resetRequestsPerAddress = new RateLimiter(clock, 3, HOUR);
  const resetRequestsPerIp = new RateLimiter(clock, 10, HOUR);
  // Each new password costs a hash; links are unguessable, so this bounds work rather than guessing.
  const resetsPerIp = new RateLimiter(clock, 10, FIFTEEN_MINUTES);
  let ownerKnown = false;

  async function needsSetup(): Promise<boolean> {
    if (ownerKnown) return false;
    ownerKnown = await repo.ownerExists(db);
    return !ownerKnown;
  }

  return {
    needsSetup,

    async setup(input: { name: string; email: string; password: string }): Promise<{ userId: number; token: string; expiresAt: number }> {
      if (!(await needsSetup())) throw new NotFoundError();
      const problem = passwordProblem(input.password, [input.name, input.email.split('@')[0] ?? '']);
      if (problem) throw new ValidationError({ password: problem });
      const passwordHash = await hashPassword(input.password);
      const now = clock.now();
      let userId: number;
      try {
        userId = await db.transaction().execute(async (trx) => {
          const id = await repo.insertOwner(trx, { email: input.email, name: input.name, passwordHash, at: now });
          await deps.onOwnerCreated?.(trx, { ownerId: id, name: input.name, email: input.email });
          return id;
        });
      } catch (err) {
        // Lost a race with another first-run setup: the other one created the owner.
        if (await repo.ownerExists(db)) throw new NotFoundError();
        throw err;
      }
      ownerKnown = true;
      return { userId, ...(await createSession(db, clock, userId)) };
    },

    async login(input: { email: string; password: string }, ip: string): Promise<{ user: UserRow; token: string; expiresAt: number }> {
      const accountKey = `${ip}|${input.email}`;
      // Every attempt counts as a failure before its password check and gives the slot back on success:
      // checking first and counting after would let a burst of parallel guesses all pass the check.
      const limited = (wait: number) => new RateLimitedError(wait, 'Too many failed sign-in attempts. Please wait a few minutes and try again.');
      const accountWait = perAccount.acquire(accountKey);
      if (accountWait > 0) throw limited(accountWait);
      const ipWait = perIp.acquire(ip);
      if (ipWait > 0) {
        perAccount.release(accountKey);
        throw limited(ipWait);
      }
      let user: UserRow | undefined;
      let ok: boolean;
      try {
        user = await repo.findUserByEmail(db, input.email);
        ok = user ? await verifyPassword(user.password_hash, input.password) : (await burnPasswordCheck(input.password), false);
      } catch (err) {
        // A broken database is no failed guess.
        perAccount.release(accountKey);
        perIp.release(ip);
        throw err;
      }
      if (!user || !ok) {
        // One message for both cases: it must not reveal whether the email has an account.
        throw new UnauthorizedError('That email and password do not match an account.');
      }
      perAccount.reset(accountKey);
      perIp.release(ip);
      return { user, ...(await createSession(db, clock, user.id)) };
    },

    /**
     * Mails a single-use reset link if `email` has an account. The caller answers the same either way,
     * so the page never reveals who has an account; the limits apply to every address alike.
     */
    async requestPasswordReset(email: string, ip: string): Promise<void> {
      const limited = (wait: number) => new RateLimitedError(wait, 'Too many reset requests. Please wait a while, then check your inbox or try again.');
      const ipWait = resetRequestsPerIp.acquire(ip);
      if (ipWait > 0) throw limited(ipWait);
      const addressWait = resetRequestsPerAddress.acquire(email);
      if (addressWait > 0) throw limited(addressWait);
      const user = await repo.findUserByEmail(db, email);
      if (!user) return;
      const token = randomToken(32);
      const now = clock.now();
      const mail = passwordResetEmail(config.mailFrom, user.email, config.baseUrl, `${config.baseUrl}/reset/${token}`, PASSWORD_RESET_TTL_MS / 60_000);
      await db.transaction().execute(async (trx) => {
        await repo.deleteExpiredPasswordResets(trx, now);
        await repo.insertPasswordReset(trx, { token_hash: sha256Hex(token), user_id: user.id, created_at: now, expires_at: now + PASSWORD_RESET_TTL_MS, used_at: null });
        await enqueueMail(trx, { kind: 'password_reset', mail, now });
      });
      mailOutbox.kick();
    },

    /** Whether a reset link can still be used; reading it changes nothing. */
    async canResetPassword(token: string): Promise<boolean> {
      if (token.length > MAX_RESET_TOKEN_LENGTH) return false;
      return (await repo.findUsablePasswordReset(db, sha256Hex(token), clock.now())) !== undefined;
    },

    /**
     * Sets a new password through a reset link: the link and the user's other links stop working, and every
     * session of the user is signed out. Throws NotFoundError for a link that is unknown, used or expired.
     */
    async resetPassword(token: string, newPassword: string, ip: string): Promise<UserRow> {
      const wait = resetsPerIp.acquire(ip);
      if (wait > 0) throw new RateLimitedError(wait, 'Too many attempts. Please wait a few minutes and try again.');
      if (token.length > MAX_RESET_TOKEN_LENGTH) throw new NotFoundError(RESET_LINK_INVALID);
      const hash = sha256Hex(token);
      const user = await repo.findUsablePasswordReset(db, hash, clock.now());
      if (!user) throw new NotFoundError(RESET_LINK_INVALID);
      const problem = passwordProblem(newPassword, [user.name, user.email.split('@')[0] ?? '']);
      if (problem) throw new ValidationError({ password: problem });
      const passwordHash = await hashPassword(newPassword);
      const now = clock.now();
      const used = await db.transaction().execute(async (trx) => {
        // The conditional update is the lock: of two presses with one link, one changes the password.
        if (!(await repo.usePasswordReset(trx, hash, now))) return false;
        await repo.retirePasswordResets(trx, user.id, now);
        await repo.updatePasswordHash(trx, user.id, passwordHash, now);
        await invalidateAllSessions(trx, user.id);
        return true;
      });
      if (!used) throw new NotFoundError(RESET_LINK_INVALID);
      // Whoever proved the inbox may sign in at once, even after the failures that made them ask.
      perAccount.reset(`${ip}|${user.email}`);
      return user;
    },

    /** Changes the password and revokes every session of the user, then opens a fresh one for this browser. */
    async changePassword(user: UserRow, currentPassword: string, newPassword: string): Promise<{ token: string; expiresAt: number }> {
      if (!(await verifyPassword(user.password_hash, currentPassword))) {
        throw new ValidationError({ current_password: 'That is not your current password.' });
      }
      const problem = passwordProblem(newPassword, [user.name, user.email.split('@')[0] ?? '']);
      if (problem) throw new ValidationError({ new_password: problem });
      const hash = await hashPassword(newPassword);
      await db.transaction().execute(async (trx) => {
        await repo.updatePasswordHash(trx, user.id, hash, clock.now());
        await invalidateAllSessions(trx, user.id);
      });
      return createSession(db, clock, user.id);
    },
  };
}
