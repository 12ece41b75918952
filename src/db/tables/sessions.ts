import type { Insertable, Selectable } from 'kysely';

export interface SessionsTable {
  /** The public half of the token; also the primary key. */
  id: string;
  user_id: number;
  /** Hex SHA-256 of the secret half; the secret itself is never stored. */
  secret_hash: string;
  created_at: number;
  last_verified_at: number;
}

export type SessionRow = Selectable<SessionsTable>;
export type NewSessionRow = Insertable<SessionsTable>;
