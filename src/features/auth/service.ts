import type { Transaction } from 'kysely';
import type { Database, Db } from '../../db/database.js';
import type { UserRow } from '../../db/tables/users.js';
import type { Clock } from '../../lib/clock.js';
import { NotFoundError, RateLimitedError, UnauthorizedError, ValidationError } from '../../lib/errors.js';
import { burnPasswordCheck, hashPassword, passwordProblem, verifyPassword } from '../../lib/passwords.js';
import { RateLimiter } from '../../lib/rate-limiter.js';
import * as repo from './repository.js';
import { createSession, invalidateAllSessions } from './sessions.js';

const FIFTEEN_MINUTES = 15 * 60 * 1000;

/** Runs inside the setup transaction once the owner exists (the readers feature creates the first newsletter). */
export type OwnerCreatedHook = (trx: Transaction<Database>, owner: { ownerId: number; name: string; email: string }) => Promise<void>;

export type AuthService = ReturnType<typeof createAuthService>;

export function createAuthService(deps: { db: Db; clock: Clock; onOwnerCreated?: OwnerCreatedHook }) {
  const { db, clock } = deps;
  // Failures only are counted: per account-and-address (stops guessing one account) and per address
  // (stops spraying many accounts). No hard lock-out an attacker could trigger against the owner.
  const perAccount = new RateLimiter(clock, 5, FIFTEEN_MINUTES);
  const perIp = new RateLimiter(clock, 30, FIFTEEN_MINUTES);
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
