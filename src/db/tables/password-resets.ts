import type { Insertable, Selectable } from 'kysely';

export interface PasswordResetsTable {
  /** Hex SHA-256 of the token in the emailed link; the token itself is never stored. */
  token_hash: string;
  user_id: number;
  created_at: number;
  expires_at: number;
  /** Set when the link is used, or when another of the user's links is; a used link never works again. */
  used_at: number | null;
}

export type PasswordResetRow = Selectable<PasswordResetsTable>;
export type NewPasswordResetRow = Insertable<PasswordResetsTable>;
