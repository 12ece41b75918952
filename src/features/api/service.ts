import type { Db } from '../../db/database.js';
import type { ApiKeyRow } from '../../db/tables/api.js';
import type { Clock } from '../../lib/clock.js';
import { NotFoundError } from '../../lib/errors.js';
import { RateLimiter } from '../../lib/rate-limiter.js';
import { keyHash, keyPrefix, newApiKey, parseScopes, type ApiScope } from './keys.js';
import * as repo from './repository.js';

/** How long a POST's answer is kept for retries carrying the same Idempotency-Key. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

export interface AuthenticatedKey {
  id: number;
  name: string;
  scopes: ApiScope[];
}

export type ApiService = ReturnType<typeof createApiService>;

/** API keys (made, listed and revoked in the admin) and what the /api/v1 scope asks of them. */
export function createApiService(deps: { db: Db; clock: Clock; requestsPerMinute: number }) {
  const { db, clock } = deps;
  const limiter = new RateLimiter(clock, deps.requestsPerMinute, 60_000);

  return {
    /** Returns the key, which is shown this once. */
    async create(name: string, scopes: ApiScope[]): Promise<{ id: number; key: string }> {
      const key = newApiKey();
      const id = await repo.insertKey(db, { name, prefix: keyPrefix(key), hash: keyHash(key), scopes: JSON.stringify(scopes), at: clock.now() });
      return { id, key };
    },

    async list(): Promise<Array<ApiKeyRow & { scopeList: ApiScope[] }>> {
      return (await repo.listKeys(db)).map((k) => ({ ...k, scopeList: parseScopes(k.scopes) }));
    },

    async revoke(id: number): Promise<void> {
      if (!(await repo.revokeKey(db, id, clock.now()))) throw new NotFoundError('There is no such key, or it was revoked already.');
    },

    async authenticate(token: string): Promise<AuthenticatedKey | undefined> {
      if (token.length > 200) return undefined;
      const row = await repo.findLiveKeyByHash(db, keyHash(token));
      if (!row) return undefined;
      await repo.touchKey(db, row.id, clock.now());
      return { id: row.id, name: row.name, scopes: parseScopes(row.scopes) };
    },

    /** Counts one request of the key; the wait in ms when it is over its budget. */
    rateLimit: (keyId: number) => limiter.hit(String(keyId)),

    idempotent: (keyId: number, key: string) => repo.findIdempotent(db, keyId, key),

    async remember(keyId: number, key: string, fingerprint: string, status: number, body: string): Promise<void> {
      const now = clock.now();
      await repo.saveIdempotent(db, { keyId, idempotencyKey: key, fingerprint, status, body, at: now });
    },

    /** Forgets idempotent answers older than a day (a job). */
    prune: () => repo.pruneIdempotent(db, clock.now() - IDEMPOTENCY_TTL_MS),
  };
}
