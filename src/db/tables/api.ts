import type { Generated, Selectable } from 'kysely';

/** A key of the public API (src/features/api): only its hash is stored. */
export interface ApiKeysTable {
  id: Generated<number>;
  name: string;
  prefix: string;
  key_hash: string;
  /** JSON array of scopes. */
  scopes: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** The first answer to a POST sent with an Idempotency-Key, replayed to retries of it. */
export interface ApiIdempotencyTable {
  id: Generated<number>;
  key_id: number;
  idempotency_key: string;
  fingerprint: string;
  status: number;
  body: string;
  created_at: number;
}

export type ApiKeyRow = Selectable<ApiKeysTable>;
export type ApiIdempotencyRow = Selectable<ApiIdempotencyTable>;
